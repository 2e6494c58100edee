// Read every *.parquet in a directory with two independent readers (DuckDB through
// @duckdb/node-api, and hyparquet) and compare each value with <dir>/expect.json, written by
// build/tests/pqwriter_test (PQWRITER_TEST_OUT). Also checks the footer statistics DuckDB
// decodes (null counts, integer/string min and max). Prints one JSON summary line; exits 1 on any
// mismatch, listing the first ones.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects, parquetMetadata } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const dir = process.argv[2];
const expect = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8'));
const cols = ['b', 't', 's', 'i', 'l', 'f', 'd', 'd7', 'd18', 'd38', 'str', 'bin', 'dt', 'ts', 'low'];
const kind = { b: 'bool', t: 'int', s: 'int', i: 'int', l: 'int', f: 'float', d: 'float', d7: 'dec',
  d18: 'dec', d38: 'dec', str: 'str', low: 'str', bin: 'bin', dt: 'int', ts: 'int' };
const scale = { d7: 2, d18: 4, d38: 10 };
const bad = [];
let checked = 0;

function fbits(v) {
  if (Number.isNaN(v)) return 'NaN';
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return dv.getBigUint64(0).toString(16).padStart(16, '0');
}
function hex(bytes) { return Buffer.from(bytes).toString('hex'); }
function decStr(unscaled, sc) {
  const neg = unscaled < 0n;
  let s = (neg ? -unscaled : unscaled).toString().padStart(sc + 1, '0');
  if (sc) s = s.slice(0, s.length - sc) + '.' + s.slice(s.length - sc);
  return (neg ? '-' : '') + s;
}
function duck(c, v) {
  if (v === null) return null;
  switch (kind[c]) {
    case 'bool': return v;
    case 'int':
      if (c === 'dt') return String(v.days);
      if (c === 'ts') return String(v.micros);
      return String(v);
    case 'float': return fbits(v);
    case 'dec': return decStr(v.value, v.scale);
    case 'str': return v;
    case 'bin': return hex(v.bytes);
  }
}
function hyp(c, v) {
  if (v === null || v === undefined) return null;
  switch (kind[c]) {
    case 'bool': return v;
    case 'int': return String(v);
    case 'float': return fbits(v);
    case 'dec': return v;
    case 'str': return v;
    case 'bin': return hex(v);
  }
}
function same(c, got, want) {
  if (kind[c] === 'dec' && typeof got === 'number') {
    // hyparquet gives decimals as JS numbers: compare to the nearest double of the exact value.
    if (want === null) return false;
    const w = Number(want);
    return got === w || Math.abs(got - w) <= Math.abs(w) * 4e-16;
  }
  return got === want;
}
function compare(file, reader, rows, norm) {
  if (rows.length !== expect.length) {
    bad.push({ file, reader, rows: rows.length, want: expect.length });
    return;
  }
  for (let r = 0; r < rows.length; r++) {
    for (let k = 0; k < cols.length; k++) {
      const c = cols[k];
      const got = norm(c, rows[r][c]);
      checked++;
      if (!same(c, got, expect[r][k]) && bad.length < 20)
        bad.push({ file, reader, row: r, col: c, got: String(got), want: expect[r][k] });
    }
  }
}

const conn = await (await DuckDBInstance.create()).connect();
await conn.run('SET threads=1');
// Nested tables: compare each row, as canonical JSON, with nested.expect.json. Lists become
// arrays, maps arrays of [key, value] in file order, structs objects, numbers plain numbers.
const nestedCols = ['id', 'tags', 'm', 'st', 'll'];
function canon(v, isMap) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (isMap) {
    if (Array.isArray(v?.entries)) return v.entries.map(e => [canon(e.key), canon(e.value)]);
    return Object.entries(v).map(([k, x]) => [k, canon(x)]);
  }
  if (Array.isArray(v)) return v.map(x => canon(x));
  if (Array.isArray(v.items)) return v.items.map(x => canon(x));
  if (v.entries && typeof v.entries === 'object') return canon(v.entries);
  if (typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = canon(x);
    return o;
  }
  return v;
}
async function checkNested(f, path, ab) {
  const want = JSON.parse(readFileSync(join(dir, 'nested.expect.json'), 'utf8'));
  const d = (await conn.runAndReadAll(`SELECT * FROM read_parquet('${path}') ORDER BY id`)).getRowObjects();
  const h = await parquetReadObjects({ file: ab, compressors });
  for (const [reader, rows] of [['duckdb', d], ['hyparquet', h]]) {
    if (rows.length !== want.length) {
      bad.push({ file: f, reader, rows: rows.length, want: want.length });
      continue;
    }
    for (let r = 0; r < rows.length; r++) {
      for (let k = 0; k < nestedCols.length; k++) {
        const got = JSON.stringify(canon(rows[r][nestedCols[k]], nestedCols[k] === 'm'));
        const exp = JSON.stringify(want[r][k]);
        checked++;
        if (got !== exp && bad.length < 20)
          bad.push({ file: f, reader, row: r, col: nestedCols[k], got, want: exp });
      }
    }
  }
}

const files = readdirSync(dir).filter(f => f.endsWith('.parquet')).sort();
for (const f of files) {
  if (f.startsWith('nested-')) {
    const buf = readFileSync(join(dir, f));
    await checkNested(f, join(dir, f), buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    continue;
  }
  const path = join(dir, f);
  const d = await conn.runAndReadAll(`SELECT * FROM read_parquet('${path}')`);
  compare(f, 'duckdb', d.getRowObjects(), duck);
  const buf = readFileSync(path);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const parsers = {
    timestampFromMicroseconds: m => m, dateFromDays: d => d,
    stringFromBytes: b => b && new TextDecoder().decode(b),
  };
  const rows = await parquetReadObjects({ file: ab, compressors, utf8: false, parsers });
  compare(f, 'hyparquet', rows, hyp);
  const meta = parquetMetadata(ab);
  if (Number(meta.num_rows) !== expect.length) bad.push({ file: f, meta_rows: String(meta.num_rows) });
  // Statistics: null counts per column, min/max of i, l and dt over the row groups.
  const st = (await conn.runAndReadAll(
    `SELECT path_in_schema p, sum(stats_null_count)::BIGINT n,
            min(coalesce(TRY_CAST(stats_min_value AS HUGEINT),
                TRY_CAST(stats_min_value AS DATE) - DATE '1970-01-01'))::VARCHAR mn,
            max(coalesce(TRY_CAST(stats_max_value AS HUGEINT),
                TRY_CAST(stats_max_value AS DATE) - DATE '1970-01-01'))::VARCHAR mx
     FROM parquet_metadata('${path}') GROUP BY 1`)).getRowObjects();
  for (const s of st) {
    const k = cols.indexOf(s.p);
    const vals = expect.map(r => r[k]);
    const nulls = vals.filter(v => v === null).length;
    if (Number(s.n) !== nulls) bad.push({ file: f, col: s.p, stat: 'null_count', got: String(s.n), want: nulls });
    if (['i', 'l', 'dt'].includes(s.p)) {
      const nn = vals.filter(v => v !== null).map(BigInt);
      const mn = nn.reduce((a, b) => (b < a ? b : a)), mx = nn.reduce((a, b) => (b > a ? b : a));
      if (s.mn !== String(mn) || s.mx !== String(mx))
        bad.push({ file: f, col: s.p, stat: 'min/max', got: [s.mn, s.mx], want: [String(mn), String(mx)] });
    }
  }
}
console.log(JSON.stringify({ files: files.length, values: checked, mismatches: bad.length }));
if (bad.length) {
  console.log(JSON.stringify(bad.slice(0, 20), null, 1));
  process.exit(1);
}
