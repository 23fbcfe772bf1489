import os from 'node:os';
import { integer, registerFormats, type FormatTypes } from './formats.js';

/**
 * The one config schema: every key's type, default, documentation and environment variable.
 * Types come from here (`MaskwatchConfig`); config/example.json documents the same keys.
 */

registerFormats();

export const schema = {
  deviceId: { doc: 'Device id in MQTT topics; default: the host name.', format: 'device-id', default: os.hostname().replace(/[^A-Za-z0-9_-]/g, '_'), env: 'MASKWATCH_DEVICE_ID' },
  stateDir: { doc: 'Folder for the outbox, the event sequence number and other state (made if missing).', format: 'state-dir', default: 'var', env: 'MASKWATCH_STATE_DIR' },
  log: {
    level: { doc: 'Log level.', format: ['debug', 'info', 'warn', 'error'], default: 'info', env: 'MASKWATCH_LOG_LEVEL' },
  },
  camera: {
    source: { doc: 'auto (the first camera found: a V4L2 capture device /dev/video*, else a CSI camera through rpicam-vid; never the demo: with no camera it waits and retries), demo (the bundled demo clip), libcamera (Pi CSI via rpicam-vid), v4l2:/dev/videoN, gstreamer:<pipeline>, file:<video or image folder> (must exist; unreadable images in a folder are skipped, named in one line).', format: 'camera-source', default: 'auto', env: 'MASKWATCH_CAMERA' },
    width: { doc: 'Capture width in pixels.', format: integer(16, 8192), default: 640 },
    height: { doc: 'Capture height in pixels.', format: integer(16, 8192), default: 480 },
    fps: { doc: 'Capture frame rate.', format: integer(1, 120), default: 15 },
    loop: { doc: 'Replay file sources in a loop.', format: 'bool', default: true },
    retryInitialMs: { doc: 'First wait before restarting a failed camera (or looking for one again); doubles up to retryMaxMs.', format: integer(1, 600_000), default: 1000 },
    retryMaxMs: { doc: 'Longest wait between camera restarts; at least retryInitialMs.', format: integer(1, 3_600_000), default: 30000 },
    stallMs: { doc: 'A camera that sends no frame for this long is restarted (the first frame after a start may take twice as long).', format: integer(100, 600_000), default: 5000 },
    ffmpegPath: { doc: 'ffmpeg binary (v4l2 and file sources).', format: String, default: 'ffmpeg' },
    rpicamPath: { doc: 'rpicam-vid (or libcamera-vid) binary for the libcamera source.', format: String, default: 'rpicam-vid' },
    gstPath: { doc: 'gst-launch-1.0 binary for the gstreamer source.', format: String, default: 'gst-launch-1.0' },
  },
  detector: {
    model: {
      doc: 'Face detector: ssd (the AIZOO face-mask SSD, trained on masked and bare faces; see docs/MODEL.md for how it was chosen), front (BlazeFace short range, 128 px) or back (BlazeFace full range, 256 px). BlazeFace was trained on bare faces and misses most masked ones.',
      format: ['ssd', 'front', 'back'],
      default: 'ssd',
    },
    precision: {
      doc: 'The SSD file to run: auto (at the first start on this CPU, times float and int8 and keeps the faster one that finds the same faces; cached in stateDir, see docs/MODEL.md), int8 (quantized) or float. BlazeFace has a float file only.',
      format: ['auto', 'int8', 'float'],
      default: 'auto',
    },
    inputSize: { doc: 'SSD input side in pixels (the whole frame is resized to it; trained at 260).', format: integer(129, 1024), default: 260 },
    scoreThreshold: { doc: "Minimum face detection score; null: the model's default (ssd 0.3, BlazeFace 0.75).", format: 'model-fraction', default: null },
    iouThreshold: { doc: "Non-maximum suppression overlap threshold; null: the model's default (ssd 0.4, BlazeFace 0.3).", format: 'model-fraction', default: null },
    minFaceSize: { doc: 'Ignore faces smaller than this many pixels (box width).', format: integer(0, 8192), default: 32 },
    maxFaces: { doc: 'Most faces kept per frame.', format: integer(1, 100), default: 10 },
    idleAfterS: { doc: 'Idle mode after this many seconds without a face: the detector runs at idleFps on frames a motion check finds changed; the first face goes back to every frame. 0: never idle.', format: integer(0, 86_400), default: 10 },
    thread: {
      doc: "Where the detector runs: auto (in a worker thread of its own where there are two cores or more and ONNX Runtime's native backend: 1.15–1.33× the frames/s for ~30 MB; on the WebAssembly backend a second copy of the runtime costs ~170 MB, so there it stays on the main thread), on (its own thread) or off (the main thread).",
      format: ['auto', 'on', 'off'],
      default: 'auto',
    },
    idleFps: { doc: 'Frames per second looked at while idle (a small grey thumbnail each; the detector only on changed ones). The first light after someone steps in waits up to 1/idleFps s longer.', format: integer(1, 120), default: 5 },
  },
  classifier: {
    modelDir: { doc: 'Model directory with model-card.json and the ONNX files (must exist; a relative path is from the working directory, else from the maskwatch folder).', format: 'model-dir', default: 'models/maskwatch-default' },
    precision: {
      doc: 'Which classifier file to run: auto (at the first start on this CPU, times float and int8 and keeps the faster one that gives the same labels; cached in stateDir, see docs/MODEL.md), int8 (quantized) or float.',
      format: ['auto', 'int8', 'float'],
      default: 'auto',
    },
    detectorScoreWeight: {
      doc: "Weight of the SSD's own mask / no-mask scores in the label (src/decision/fuse-scores.ts); 0 is the classifier alone. Chosen on the validation split, see docs/MODEL.md.",
      format: 'fraction',
      default: 1,
    },
  },
  tracker: {
    iouThreshold: { doc: 'Box overlap that continues a track.', format: 'fraction', default: 0.3 },
    window: { doc: 'How many recent scores a track keeps (the label is their median).', format: integer(1, 100), default: 7 },
    minFrames: { doc: 'Frames a face must be seen in before it counts as a person (entered on the person topic) and can be decided; fewer frames are taken for a false detection.', format: integer(1, 100), default: 3 },
    confidence: { doc: 'Median score a label needs to decide a track; a person who never reaches it gets no light and no event (logged once; maskwatch eval --confidence compares values).', format: 'fraction', default: 0.6 },
    lostAfterMs: { doc: 'A track unseen this long ends; a person who comes back is a new track.', format: integer(1, 600_000), default: 1500 },
    newPersonAfterGapMs: {
      doc: 'Someone else in the same spot: a decided person seen again after at least this long unseen, whose face then gets another label (decided as a new face would be), is a new person; the first leaves, the new one gets their own light and event. 250 ms is two missed frames at 10 frames/s, three at 15, one at 8 or fewer (a gap always holds a frame without the face). 0 is off; at lostAfterMs or more it never applies.',
      format: integer(0, 600_000),
      default: 250,
    },
  },
  signals: {
    backend: { doc: 'GPIO backend: auto (chardev, else sysfs, else console with a warning), chardev (libgpiod), sysfs, console, none.', format: ['auto', 'chardev', 'sysfs', 'console', 'none'], default: 'auto' },
    chip: { doc: 'GPIO chip for chardev/sysfs: a device name (gpiochip0), a label (pinctrl-rp1, pinctrl-bcm2711, tegra234-gpio) or "auto" (the chip that has the named lines, else the first).', format: String, default: 'auto' },
    sysfsRoot: { doc: 'sysfs GPIO folder (tests point this at a fake tree).', format: String, default: '/sys/class/gpio' },
    gpiosetPath: { doc: 'libgpiod gpioset binary used by the chardev backend.', format: String, default: 'gpioset' },
    activeLow: { doc: 'Lines are active low (LED to 3V3, buzzer via a PNP transistor).', format: 'bool', default: false },
    green: { doc: 'Green LED line: offset or line name (BCM numbering on a Pi). The four lines must differ.', format: 'gpio-line', default: 17 },
    red: { doc: 'Red LED line.', format: 'gpio-line', default: 27 },
    amber: { doc: 'Amber LED line.', format: 'gpio-line', default: 22 },
    buzzer: { doc: 'Active buzzer line, or null for none.', format: 'gpio-line', default: 18 },
    holdMs: { doc: 'Light stays on this long after the last person leaves view.', format: integer(0, 600_000), default: 3000 },
    lampTest: { doc: 'Flash each light and chirp the buzzer at start-up.', format: 'bool', default: true },
    buzzerMask: { doc: 'Buzzer pattern for mask: on,off,on… ms; "" is silent.', format: 'buzzer-pattern', default: '' },
    buzzerNoMask: { doc: 'Buzzer pattern for no_mask.', format: 'buzzer-pattern', default: '1000' },
    buzzerMaskIncorrect: { doc: 'Buzzer pattern for mask_incorrect.', format: 'buzzer-pattern', default: '150,100,150' },
    quietStart: { doc: 'Quiet hours start (buzzer silent, lights stay on), HH:MM local time; "" is off. Set both quietStart and quietEnd, or neither.', format: 'clock-time', default: '' },
    quietEnd: { doc: 'Quiet hours end, HH:MM.', format: 'clock-time', default: '' },
  },
  mqtt: {
    enabled: { doc: 'Publish events over MQTT (else they stay in the outbox).', format: 'bool', default: true, env: 'MASKWATCH_MQTT_ENABLED' },
    url: { doc: 'Broker URL: mqtt://, mqtts://, ws:// or wss://, a host, port 1-65535. A password in it (mqtt://user:pass@host) is redacted in logs and config print.', format: 'broker-url', default: 'mqtt://localhost:1883', env: 'MASKWATCH_MQTT_URL' },
    protocolVersion: { doc: 'MQTT protocol: 5, or 4 for 3.1.1.', format: [4, 5], default: 5 },
    prefix: { doc: 'Topic prefix: topics are <prefix>/<deviceId>/... (levels split by /; no +, #, spaces or empty levels).', format: 'topic-prefix', default: 'maskwatch' },
    clientId: { doc: 'Client id; "" means maskwatch-<deviceId>.', format: String, default: '' },
    username: { doc: 'User name; "" for none.', format: String, default: '', env: 'MASKWATCH_MQTT_USERNAME' },
    password: { doc: 'Password (prefer passwordFile or the environment variable).', format: String, default: '', sensitive: true, env: 'MASKWATCH_MQTT_PASSWORD' },
    passwordFile: { doc: 'File whose first line is the password (must exist when set).', format: 'optional-file', default: '' },
    caFile: { doc: 'TLS CA certificate file (must exist when set).', format: 'optional-file', default: '' },
    certFile: { doc: 'TLS client certificate file (must exist when set; needs keyFile).', format: 'optional-file', default: '' },
    keyFile: { doc: 'TLS client key file (must exist when set; needs certFile).', format: 'optional-file', default: '' },
    rejectUnauthorized: { doc: 'Verify the broker certificate.', format: 'bool', default: true },
    keepaliveS: { doc: 'Keepalive in seconds; 0 is off.', format: integer(0, 65535), default: 30 },
    statsIntervalS: { doc: 'Seconds between stats messages; 0 is off.', format: integer(0, 86_400), default: 60 },
    outboxMax: { doc: 'Most events kept in the on-disk outbox while the broker is away; the oldest are dropped and counted past it.', format: integer(1, 10_000_000), default: 10000 },
    homeAssistant: { doc: 'Publish Home Assistant MQTT discovery.', format: 'bool', default: true },
    discoveryPrefix: { doc: 'Home Assistant discovery prefix (same rules as prefix).', format: 'topic-prefix', default: 'homeassistant' },
  },
  systemd: {
    watchdog: { doc: 'Send WATCHDOG=1 while frames are processed (when systemd asks for it).', format: 'bool', default: true },
  },
} as const;

type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T;

/** A leaf's value type: the members of an enum, the type of a named format, else the default's type. */
type LeafValue<L> = L extends { format: readonly (infer U)[] }
  ? U
  : L extends { format: infer F extends keyof FormatTypes }
    ? FormatTypes[F]
    : L extends { format: `integer ${string}` }
      ? number
      : L extends { default: infer D }
        ? Widen<D>
        : never;

type ConfigShape<S> = { -readonly [K in keyof S]: S[K] extends { default: unknown } ? LeafValue<S[K]> : ConfigShape<S[K]> };

/** The config's type, derived from the schema: enum keys keep their literal unions. */
export type MaskwatchConfig = ConfigShape<typeof schema>;
