// Differential-test oracle for the liveness net (src/attributes/liveness_net.cpp): runs
// model/fr_liveness.onnx of faceplugin-face-recognition-js in ONNX Runtime (onnxruntime-web,
// wasm backend, loaded from disk), the runtime its package was made for.
//   node liveness_reference.mjs MODEL.onnx job.json > out.json
// job.json: {"cases": [{"id", "input"}]}, input = a file of 128*128*3 bytes, interleaved, fed
// in the order stored (channel k of each pixel becomes plane k), as 0..255 floats.
// Output: {"<id>": {"logits": [3], "probabilities": [softmax of the logits]}}.
import fs from 'node:fs';
import * as ort from 'onnxruntime-web';

const [modelPath, jobPath] = process.argv.slice(2);
if (!modelPath || !jobPath) {
  console.error('usage: node liveness_reference.mjs MODEL.onnx job.json');
  process.exit(2);
}
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(fs.readFileSync(modelPath), {executionProviders: ['wasm']});
const job = JSON.parse(fs.readFileSync(jobPath, 'utf8'));
const side = 128;
const out = {};
for (const c of job.cases) {
  const pixels = fs.readFileSync(c.input);
  if (pixels.length !== side * side * 3) throw new Error(`${c.id}: expected ${side * side * 3} bytes`);
  const input = new Float32Array(3 * side * side);
  for (let y = 0; y < side; ++y) {
    for (let x = 0; x < side; ++x) {
      for (let ch = 0; ch < 3; ++ch) input[ch * side * side + y * side + x] = pixels[(y * side + x) * 3 + ch];
    }
  }
  const result = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, side, side])});
  const logits = Array.from(result[session.outputNames[0]].data);
  const top = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  out[c.id] = {logits, probabilities: exps.map((v) => v / sum)};
}
process.stdout.write(JSON.stringify(out));
