// DuckDB's own JSON->Parquet (SET threads=1), for bench/parquet.sh: COPY (SELECT * FROM
// read_json(IN, columns=...)) TO OUT (FORMAT parquet, COMPRESSION codec). Prints seconds and bytes.
// Usage: node bench/parquet_duck.mjs IN.jsonl OUT.parquet CODEC 'col TYPE, ...'
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../tests/integration/js/package.json', import.meta.url));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const [inp, out, codec, columns] = process.argv.slice(2);
const conn = await (await DuckDBInstance.create()).connect();
await conn.run('SET threads=1');
const cols = `{${columns.split(/,(?![^<(]*[>)])/).map(c => {
  const [n, ...t] = c.trim().split(' ');
  return `'${n}': '${t.join(' ')}'`;
}).join(', ')}}`;
const t0 = process.hrtime.bigint();
await conn.run(`COPY (SELECT * FROM read_json('${inp}', format='newline_delimited', columns=${cols}))
                TO '${out}' (FORMAT parquet, COMPRESSION ${codec})`);
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ seconds: s, bytes: statSync(out).size }));
