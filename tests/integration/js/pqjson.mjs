// Compare a Parquet file written by build/pqconv with DuckDB's own reading of the same JSON
// lines (read_json with the same columns): rows missing on either side are counted both ways
// (EXCEPT ALL), timestamps compared as epoch microseconds. Prints one JSON line; exit 1 when any
// row differs. Usage: node pqjson.mjs OUT.parquet VALID.jsonl 'col TYPE, ...' 'select list'
import { DuckDBInstance } from '@duckdb/node-api';

const [file, jsonl, columns, select] = process.argv.slice(2);
const conn = await (await DuckDBInstance.create()).connect();
await conn.run('SET threads=1');
const cols = `{${columns.split(/,(?![^<(]*[>)])/).map(c => {
  const [n, ...t] = c.trim().split(' ');
  return `'${n}': '${t.join(' ')}'`;
}).join(', ')}}`;
await conn.run(`CREATE TABLE oracle AS SELECT ${select} FROM read_json('${jsonl}', format='newline_delimited', columns=${cols})`);
await conn.run(`CREATE TABLE ours AS SELECT ${select} FROM read_parquet('${file}')`);
const one = async q => (await conn.runAndReadAll(q)).getRows()[0][0];
const n = Number(await one('SELECT count(*) FROM ours'));
const m = Number(await one('SELECT count(*) FROM oracle'));
const a = Number(await one('SELECT count(*) FROM (SELECT * FROM ours EXCEPT ALL SELECT * FROM oracle)'));
const b = Number(await one('SELECT count(*) FROM (SELECT * FROM oracle EXCEPT ALL SELECT * FROM ours)'));
const out = { ours: n, oracle: m, only_ours: a, only_oracle: b };
if (a || b) {
  out.sample_ours = String((await conn.runAndReadAll('SELECT * FROM (SELECT * FROM ours EXCEPT ALL SELECT * FROM oracle) LIMIT 2')).getRows());
  out.sample_oracle = String((await conn.runAndReadAll('SELECT * FROM (SELECT * FROM oracle EXCEPT ALL SELECT * FROM ours) LIMIT 2')).getRows());
}
console.log(JSON.stringify(out));
process.exit(a || b || n !== m ? 1 : 0);
