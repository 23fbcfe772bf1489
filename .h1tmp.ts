import * as tf from '@tensorflow/tfjs';
const { run } = await import('./bench/classifier.js');
console.log('start', tf.getBackend());
setInterval(() => console.log('alive', tf.getBackend()), 2000).unref();
const r = await run(); console.log(r.length);
