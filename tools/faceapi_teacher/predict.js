#!/usr/bin/env node
// Runs ONLY the expression net of @vladmandic/face-api (no detector) over face crops.
//
//   node predict.js --info    one JSON line: package and tfjs versions, backend, label order
//   node predict.js           worker: reads frames on stdin, answers each on stdout
//
// A frame is a 16-byte header of four little-endian uint32 (n, height, width, channels;
// channels 1 or 3, RGB order) followed by n*height*width*channels uint8 pixels, row-major.
// The answer is n*7 little-endian float32: the softmax probabilities in face-api's own label
// order (FACE_EXPRESSION_LABELS, printed by --info); the Python side maps them to ours.
// A header with n = 0 ends the worker. Each face goes through face-api's own input path
// (NetInput.toBatchTensor: zero-padded to a centred square, resized bilinearly to 112x112),
// so the figures are those of the library as shipped. Gray faces are repeated to 3 channels.
'use strict';

const path = require('path');

const MODEL_DIR = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
const HEADER_BYTES = 16;

function loadFaceApi() {
  // Silence the wasm backend's banner lines on stdout: stdout carries binary answers only.
  const log = console.log;
  console.log = (...args) => process.stderr.write(`${args.join(' ')}\n`);
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  console.log = log;
  return faceapi;
}

async function setup() {
  const faceapi = loadFaceApi();
  const { tf } = faceapi;
  await tf.setBackend('wasm');
  await tf.ready();
  await faceapi.nets.faceExpressionNet.loadFromDisk(MODEL_DIR);
  return faceapi;
}

function info(faceapi) {
  const pkg = require('@vladmandic/face-api/package.json');
  const labels = Object.keys(new faceapi.FaceExpressions(new Float32Array(7)))
    .filter((k) => typeof faceapi.FaceExpressions.prototype[k] !== 'function');
  return {
    package: pkg.name,
    version: pkg.version,
    tfjs: faceapi.tf.version_core,
    backend: faceapi.tf.getBackend(),
    input_size: 112,
    labels,
  };
}

async function predict(faceapi, header, pixels) {
  const { tf } = faceapi;
  const [n, h, w, c] = header;
  if (c !== 1 && c !== 3) throw new Error(`channels must be 1 or 3, got ${c}`);
  const faces = tf.tidy(() => {
    let x = tf.tensor4d(pixels, [n, h, w, c], 'int32');
    if (c === 1) x = tf.tile(x, [1, 1, 1, 3]);
    return tf.unstack(x);
  });
  const out = await faceapi.nets.faceExpressionNet.forward(faces);
  const probs = out.dataSync();
  out.dispose();
  faces.forEach((t) => t.dispose());
  return Buffer.from(new Float32Array(probs).buffer);
}

// Reads exact byte counts from stdin, whatever the chunking of the pipe.
class Reader {
  constructor(stream) {
    this.it = stream[Symbol.asyncIterator]();
    this.chunks = [];
    this.length = 0;
  }

  async read(count) {
    while (this.length < count) {
      const { value, done } = await this.it.next();
      if (done) return null;
      this.chunks.push(value);
      this.length += value.length;
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const head = all.subarray(0, count);
    const rest = all.subarray(count);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return head;
  }
}

function write(buf) {
  return new Promise((resolve, reject) => {
    process.stdout.write(buf, (err) => (err ? reject(err) : resolve()));
  });
}

async function main() {
  const faceapi = await setup();
  if (process.argv.includes('--info')) {
    process.stdout.write(`${JSON.stringify(info(faceapi))}\n`);
    return;
  }
  const reader = new Reader(process.stdin);
  for (;;) {
    const head = await reader.read(HEADER_BYTES);
    if (head === null) break;
    const header = [0, 1, 2, 3].map((i) => head.readUInt32LE(4 * i));
    if (header[0] === 0) break;
    const body = await reader.read(header.reduce((a, b) => a * b, 1));
    if (body === null) throw new Error('stdin ended inside a frame');
    await write(await predict(faceapi, header, Int32Array.from(body)));
  }
}

main().catch((err) => {
  process.stderr.write(`faceapi_teacher: ${err.stack || err}\n`);
  process.exit(1);
});
