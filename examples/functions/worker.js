#!/usr/bin/node
// Run a Lambda-style Node.js handler as hydrant's warm command worker: one event per line on
// stdin, the handler's result as one line on stdout (errors as {"errorMessage","errorType"}).
//   {"arn:...:function:enrich": {"command": ["node", "worker.js", "enricher.js"]}}
const path = require('path');
const readline = require('readline');
const handler = require(path.resolve(process.argv[2]))[process.argv[3] || 'handler'];
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let out;
    try { out = await handler(JSON.parse(line), {}); } catch (e) {
      out = { errorMessage: String(e && e.message), errorType: (e && e.name) || 'Error' };
    }
    await new Promise((res) => process.stdout.write(JSON.stringify(out) + '\n', res));
  });
});
rl.on('close', () => chain.then(() => process.exit(0)));
