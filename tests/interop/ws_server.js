// Interop server on Node's ws (Debian's node-ws, WebSocketServer).
//
//     node ws_server.js [--port N]
//
// Speaks the contract described at the top of tests/integration/test_interop.py:
// prints `PORT <n>`, then event lines. permessage-deflate is accepted when
// offered; v2.wsgather is selected when offered. The messages repeat those of
// contract.py.
'use strict';

const { WebSocketServer } = require('/usr/share/nodejs/ws');

const JSON_TEXT = '{"a": [1, 2.50, true, null], "b": "x\\"y"}';
const TEXT = 'hello, w\u00f6rld: not JSON {';
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const BIG = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/'.repeat(65536);
const SUBPROTOCOL = 'v2.wsgather';
const HEADER = 'x-wsgather-test';
const PATHS = new Set(['/json', '/text', '/binary', '/big', '/headers', '/close', '/hold']);

// Pipes are written synchronously on Linux: each line is out when this returns.
const emit = (line) => process.stdout.write(line + '\n');

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: true,
  maxPayload: 64 * 1024 * 1024,
  handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  verifyClient: (info) => PATHS.has(new URL(info.req.url, 'http://x').pathname),
});

wss.on('listening', () => emit(`PORT ${wss.address().port}`));

wss.on('connection', (ws, req) => {
  const target = req.url;
  const path = new URL(target, 'http://x').pathname;
  const header = req.headers[HEADER] || '';
  if (path === '/headers') emit(`HEADER ${target} ${HEADER}: ${header}`);
  if (ws.protocol) emit(`PROTO ${target} ${ws.protocol}`);
  for (const name of ws.extensions.split(',').filter(Boolean)) emit(`EXT ${target} ${name.trim()}`);
  emit(`OPEN ${target}`);
  ws.on('close', (code) => emit(`CLOSE ${target} ${code && code !== 1005 && code !== 1006 ? code : 'none'}`));
  ws.on('error', () => {});
  if (path === '/json') ws.send(JSON_TEXT);
  else if (path === '/text') ws.send(TEXT);
  else if (path === '/binary') ws.send(BINARY);
  else if (path === '/big') ws.send(BIG);
  else if (path === '/headers') ws.send(header);
  else if (path === '/close') ws.close(4000, 'bye');
});
