#!/usr/bin/env node
// Read WebSocket feeds concurrently and write every message as a JSON line.
//
//     node bench/peers/gather.js URL...
//
// The benchmark's Node.js peer, written as a Node programmer would write it
// for production, with the `ws` package (v8; found in bench/node_modules).
// Runs on Node 18 (Debian 12's) and 20. One WebSocket per URL; each message
// is parsed with JSON.parse and formatted as a line; the lines produced in
// one turn of the event loop are written to stdout as one chunk (cut at
// 64 KiB: one turn can read thousands of messages). When stdout says it is
// full (write returns false), every socket is paused until 'drain', so TCP
// slows the servers down and memory stays bounded.
//
// Each line: {"feed":URL,"seq":N,"ts":"...Z","data":PAYLOAD}, compact JSON;
// seq counts from 1 per feed; ts is the UTC time the message reached this
// program's code, to the microsecond.
//
// Exit 0 once every feed has closed normally (close code 1000 or 1001, as
// python-websockets counts it) and stdout has flushed; 1 if any feed failed
// (refused, handshake, abnormal close, a payload that is not JSON...), one
// line per failed feed on stderr. A failure does not stop the other feeds.
'use strict';

const { performance } = require('perf_hooks');
const WebSocket = require('ws');

// ws's defaults are kept (permessage-deflate offered, no pings of its own),
// except maxPayload: 64 MiB, the limit the Python peer has (ws's own is 100).
const MAX_MESSAGE = 64 * 1024 * 1024;
const CHUNK = 64 * 1024; // write out at least this often (in UTF-16 units)

const urls = process.argv.slice(2);
if (urls.length === 0) {
  process.stderr.write('usage: gather.js URL...\n');
  process.exit(2);
}

// Date has milliseconds only; performance.now() adds the microseconds.
function utcNow() {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const iso = new Date(Math.floor(us / 1000)).toISOString(); // ...T12:34:56.789Z
  return iso.slice(0, 20) + String(us % 1000000).padStart(6, '0') + 'Z';
}

const sockets = [];
let open = urls.length;
let status = 0;
let pending = ''; // lines not yet handed to stdout
let flushScheduled = false;
let waitingForDrain = false;

function fail(url, message) {
  process.stderr.write(`gather.js: ${url}: ${message}\n`);
  status = 1;
}

function flush() {
  if (waitingForDrain || pending === '') return;
  const chunk = pending;
  pending = '';
  if (!process.stdout.write(chunk)) {
    waitingForDrain = true;
    for (const ws of sockets) ws.pause();
    process.stdout.once('drain', () => {
      waitingForDrain = false;
      flush(); // what arrived while pausing; may pause again
      if (!waitingForDrain) for (const ws of sockets) ws.resume();
    });
  }
}

function emit(line) {
  pending += line + '\n';
  if (pending.length >= CHUNK) {
    flush();
  } else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(() => {
      // after the I/O of this turn
      flushScheduled = false;
      flush();
    });
  }
}

function readFeed(url) {
  let seq = 0;
  let failed = false;
  const ws = new WebSocket(url, { maxPayload: MAX_MESSAGE });
  sockets.push(ws);

  ws.on('open', () => {
    if (waitingForDrain) ws.pause(); // pause() does nothing while connecting
  });
  ws.on('message', (message) => {
    if (failed) return;
    let data;
    try {
      data = JSON.parse(message.toString());
    } catch (err) {
      failed = true;
      fail(url, `message ${seq + 1} is not JSON: ${err.message}`);
      ws.terminate();
      return;
    }
    seq += 1;
    emit(JSON.stringify({ feed: url, seq, ts: utcNow(), data }));
  });
  ws.on('error', (err) => {
    if (!failed) fail(url, err.message);
    failed = true;
  });
  ws.on('close', (code, reason) => {
    if (!failed && code !== 1000 && code !== 1001) {
      fail(url, `closed with code ${code}${reason.length ? ` (${reason})` : ''}`);
    }
    open -= 1;
    if (open === 0) {
      // Nothing else keeps the event loop alive: Node exits once the last
      // chunk has been written out.
      process.exitCode = status;
    }
  });
}

process.stdout.on('error', (err) => {
  // EPIPE: the reader has gone; nothing more can be written.
  if (err.code !== 'EPIPE') process.stderr.write(`gather.js: stdout: ${err.message}\n`);
  process.exit(1);
});

for (const url of urls) readFeed(url);
