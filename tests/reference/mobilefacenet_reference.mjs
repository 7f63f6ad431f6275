// Differential-test oracle for the MobileFaceNet (src/embed/mobile_face_net.cpp): runs
// model/fr_feature.onnx in ONNX Runtime (onnxruntime-web, wasm backend, loaded from disk), the
// runtime its npm package was made for, with the preprocessing written out here independently.
//   node mobilefacenet_reference.mjs MODEL.onnx job.json > out.json
// job.json: {"cases": [{"id", "input"}]}, input = a file of 112*112*3 bytes, interleaved BGR.
// Output: {"<id>": [512 floats, as the network returns them (not normalised)]}.
import fs from 'node:fs';
import * as ort from 'onnxruntime-web';

const [modelPath, jobPath] = process.argv.slice(2);
if (!modelPath || !jobPath) {
  console.error('usage: node mobilefacenet_reference.mjs MODEL.onnx job.json');
  process.exit(2);
}
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(fs.readFileSync(modelPath), {executionProviders: ['wasm']});
const job = JSON.parse(fs.readFileSync(jobPath, 'utf8'));
const side = 112;
const out = {};
for (const c of job.cases) {
  const bgr = fs.readFileSync(c.input);
  if (bgr.length !== side * side * 3) throw new Error(`${c.id}: expected ${side * side * 3} bytes`);
  // NCHW, channels in B, G, R order, (x - 127.5) / 128.
  const input = new Float32Array(3 * side * side);
  for (let y = 0; y < side; ++y) {
    for (let x = 0; x < side; ++x) {
      for (let ch = 0; ch < 3; ++ch) {
        input[ch * side * side + y * side + x] = (bgr[(y * side + x) * 3 + ch] - 127.5) / 128;
      }
    }
  }
  const result = await session.run({[session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, side, side])});
  out[c.id] = Array.from(result[session.outputNames[0]].data);
}
process.stdout.write(JSON.stringify(out));
