/**
 * The worker-thread side of ThreadedFaceDetector: builds the configured detector in this thread and answers one
 * detect request at a time. Log lines go to the main thread, which writes them through its own logger.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { ModelError } from '../core/errors.js';
import { createLogger, errorMessage, setLogLevel, setLogSink } from '../core/log.js';
import type { FaceDetector } from '../core/seams.js';
import { adoptOrtBackend, ortBackend } from '../onnx/session.js';
import { detectorName, startFaceDetector } from './start-face-detector.js';
import type { ThreadReply, ThreadRequest } from './threaded-detector.js';

if (!parentPort) throw new Error('detector-thread.ts runs as a worker thread only');
const port: MessagePort = parentPort;
const reply = (message: ThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
setLogSink((line, level) => reply({ type: 'log', line, level }));
const log = createLogger('detector');

let detector: FaceDetector | null = null;
// One request at a time, in order: a close that arrives during a detect waits for it.
let queue: Promise<void> = Promise.resolve();
port.on('message', (request: ThreadRequest) => void (queue = queue.then(() => handle(request))));

async function handle(request: ThreadRequest): Promise<void> {
  try {
    if (request.type === 'start') {
      setLogLevel(request.logLevel);
      await adoptOrtBackend(request.ortBackend);
      detector = await startFaceDetector(request.settings, request.runtime);
      log.debug(`${detectorName(request.settings)} started in its own thread (ONNX Runtime ${await ortBackend()})`);
      reply({ type: 'started', inputSize: detector.inputSize });
    } else if (request.type === 'detect') {
      if (!detector) throw new Error('detector thread: not started');
      const faces = await detector.detect({ ...request.frame, rgb: new Uint8Array(request.frame.rgb) });
      reply({ type: 'faces', id: request.id, faces, rgb: request.frame.rgb }, [request.frame.rgb]);
    } else if (request.type === 'close') {
      await detector?.close();
      detector = null;
      port.close(); // the thread exits: close() on the main side waits for that
    }
  } catch (err) {
    const id = request.type === 'detect' ? request.id : undefined;
    reply({ type: 'error', id, message: errorMessage(err), model: err instanceof ModelError });
  }
}
