#!/usr/bin/env bash
# Install the Debian packages hydrant needs, only those missing (apt-get update runs only then).
#   scripts/deps.sh run    build and run
#   scripts/deps.sh test   also everything the tests, sanitizers and fuzzers need
set -eu
# One package group a line, so parallel work merges cleanly.
run_pkgs="gcc make pkg-config libcjson-dev libh2o-evloop-dev"
run_pkgs="$run_pkgs libssl-dev libcurl4-openssl-dev libexpat1-dev" # auth, S3, remote calls
run_pkgs="$run_pkgs zlib1g-dev libzstd-dev libsnappy-dev libjq-dev" # pipeline
run_pkgs="$run_pkgs libpq-dev" # warehouse (PostgreSQL loads)
test_pkgs="$run_pkgs libcmocka-dev clang libclang-rt-14-dev libfuzzer-14-dev cppcheck clang-format"
test_pkgs="$test_pkgs awscli python3-boto3"
test_pkgs="$test_pkgs nginx-light python3-jwt gunicorn"         # auth
test_pkgs="$test_pkgs python3-snappy zstd unzip libdeflate-dev" # pipeline
test_pkgs="$test_pkgs postgresql" # warehouse
test_pkgs="$test_pkgs openssl python3-cryptography"              # alexa (test PKI, signing)
case "${1:-run}" in
    run) want=$run_pkgs ;;
    test) want=$test_pkgs ;;
    *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends $missing
fi
