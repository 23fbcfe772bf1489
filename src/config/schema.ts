import convict from 'convict';
import os from 'node:os';

/**
 * The one config schema: every key's type, default, documentation and environment variable.
 * Types come from here (`MaskwatchConfig`); config/example.json documents the same keys.
 */

const gpioLine: convict.Format = {
  name: 'gpio-line',
  validate(value: unknown) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return;
    if (typeof value === 'string' && /^[A-Za-z0-9_.-]+$/.test(value) && value.length > 0) return;
    if (value === null) return;
    throw new Error('must be a line offset (integer ≥ 0), a line name such as "GPIO17", or null to leave it unused');
  },
  coerce: (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
};

const cameraSource: convict.Format = {
  name: 'camera-source',
  validate(value: unknown) {
    if (typeof value !== 'string') throw new Error('must be a string');
    if (value === 'auto' || value === 'libcamera' || value === 'demo') return;
    if (/^v4l2:\/dev\/[\w./-]+$/.test(value)) return;
    if (/^gstreamer:.+/.test(value)) return;
    if (/^file:.+/.test(value)) return;
    throw new Error('must be one of: auto, demo, libcamera, v4l2:/dev/videoN, gstreamer:<pipeline ending in jpegenc>, file:<video or folder of images>');
  },
};

const buzzerPattern: convict.Format = {
  name: 'buzzer-pattern',
  validate(value: unknown) {
    if (typeof value !== 'string') throw new Error('must be a string');
    if (value === '') return;
    if (!/^\d+(,\d+)*$/.test(value)) throw new Error('must be "" (silent) or on/off durations in ms, such as "1000" or "150,100,150"');
    if (value.split(',').some((n) => Number(n) <= 0 || Number(n) > 10_000)) throw new Error('each duration must be 1..10000 ms');
  },
};

const clockTime: convict.Format = {
  name: 'clock-time',
  validate(value: unknown) {
    if (value === '') return;
    if (typeof value !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(value)) throw new Error('must be "" (off) or a time HH:MM, such as "22:00"');
  },
};

const fraction: convict.Format = {
  name: 'fraction',
  validate(value: unknown) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error('must be a number from 0 to 1');
  },
  coerce: Number,
};

convict.addFormats({ 'gpio-line': gpioLine, 'camera-source': cameraSource, 'buzzer-pattern': buzzerPattern, 'clock-time': clockTime, fraction });

export const schema = {
  deviceId: { doc: 'Device id in MQTT topics; default: the host name.', format: String, default: os.hostname().replace(/[^A-Za-z0-9_-]/g, '_'), env: 'MASKWATCH_DEVICE_ID' },
  stateDir: { doc: 'Folder for the outbox, the event sequence number and other state.', format: String, default: 'var', env: 'MASKWATCH_STATE_DIR' },
  log: {
    level: { doc: 'Log level.', format: ['debug', 'info', 'warn', 'error'], default: 'info', env: 'MASKWATCH_LOG_LEVEL' },
  },
  camera: {
    source: { doc: 'auto (first /dev/video*, else the demo clip), demo, libcamera (Pi CSI via rpicam-vid), v4l2:/dev/videoN, gstreamer:<pipeline>, file:<video or image folder>.', format: 'camera-source', default: 'auto', env: 'MASKWATCH_CAMERA' },
    width: { doc: 'Capture width in pixels.', format: 'nat', default: 640 },
    height: { doc: 'Capture height in pixels.', format: 'nat', default: 480 },
    fps: { doc: 'Capture frame rate.', format: 'nat', default: 15 },
    loop: { doc: 'Replay file sources in a loop.', format: Boolean, default: true },
    retryInitialMs: { doc: 'First wait before restarting a failed camera; doubles up to retryMaxMs.', format: 'nat', default: 1000 },
    retryMaxMs: { doc: 'Longest wait between camera restarts.', format: 'nat', default: 30000 },
    stallMs: { doc: 'A camera that sends no frame for this long is restarted (the first frame after a start may take twice as long).', format: 'nat', default: 5000 },
    ffmpegPath: { doc: 'ffmpeg binary (v4l2 and file sources).', format: String, default: 'ffmpeg' },
    rpicamPath: { doc: 'rpicam-vid (or libcamera-vid) binary for the libcamera source.', format: String, default: 'rpicam-vid' },
    gstPath: { doc: 'gst-launch-1.0 binary for the gstreamer source.', format: String, default: 'gst-launch-1.0' },
  },
  detector: {
    model: { doc: 'BlazeFace variant: front (128 px, faces within about 2 m) or back (256 px, full range).', format: ['front', 'back'], default: 'front' },
    scoreThreshold: { doc: 'Minimum face detection score.', format: 'fraction', default: 0.75 },
    iouThreshold: { doc: 'Non-maximum suppression overlap threshold.', format: 'fraction', default: 0.3 },
    minFaceSize: { doc: 'Ignore faces smaller than this many pixels (box width).', format: 'nat', default: 32 },
    maxFaces: { doc: 'Most faces kept per frame.', format: 'nat', default: 10 },
  },
  classifier: {
    modelDir: { doc: 'Model directory with model-card.json and the ONNX files.', format: String, default: 'models/maskwatch-default' },
    precision: { doc: 'Which classifier file to run: int8 (quantized; on the shipped model the same label as float on 99.8 % of test faces ≥ 32 px, see docs/MODEL.md) or float.', format: ['int8', 'float'], default: 'int8' },
  },
  tracker: {
    iouThreshold: { doc: 'Box overlap that continues a track.', format: 'fraction', default: 0.3 },
    window: { doc: 'How many recent scores a track keeps (the label is their median).', format: 'nat', default: 7 },
    minFrames: { doc: 'Frames a track needs before it is decided.', format: 'nat', default: 3 },
    confidence: { doc: 'Median score a label needs to decide a track.', format: 'fraction', default: 0.6 },
    lostAfterMs: { doc: 'A track unseen this long ends; a person who comes back is a new track.', format: 'nat', default: 1500 },
  },
  signals: {
    backend: { doc: 'GPIO backend: auto (chardev, else sysfs, else console), chardev (libgpiod), sysfs, console, none.', format: ['auto', 'chardev', 'sysfs', 'console', 'none'], default: 'auto' },
    chip: { doc: 'GPIO chip for chardev/sysfs: a device name (gpiochip0), a label (pinctrl-rp1, pinctrl-bcm2711, tegra234-gpio) or "auto" (the chip that has the named lines, else the first).', format: String, default: 'auto' },
    sysfsRoot: { doc: 'sysfs GPIO folder (tests point this at a fake tree).', format: String, default: '/sys/class/gpio' },
    gpiosetPath: { doc: 'libgpiod gpioset binary used by the chardev backend.', format: String, default: 'gpioset' },
    activeLow: { doc: 'Lines are active low (LED to 3V3, buzzer via a PNP transistor).', format: Boolean, default: false },
    green: { doc: 'Green LED line: offset or line name (BCM numbering on a Pi).', format: 'gpio-line', default: 17 },
    red: { doc: 'Red LED line.', format: 'gpio-line', default: 27 },
    amber: { doc: 'Amber LED line.', format: 'gpio-line', default: 22 },
    buzzer: { doc: 'Active buzzer line, or null for none.', format: 'gpio-line', default: 18 },
    holdMs: { doc: 'Light stays on this long after the last person leaves view.', format: 'nat', default: 3000 },
    lampTest: { doc: 'Flash each light and chirp the buzzer at start-up.', format: Boolean, default: true },
    buzzerMask: { doc: 'Buzzer pattern for mask: on,off,on… ms; "" is silent.', format: 'buzzer-pattern', default: '' },
    buzzerNoMask: { doc: 'Buzzer pattern for no_mask.', format: 'buzzer-pattern', default: '1000' },
    buzzerMaskIncorrect: { doc: 'Buzzer pattern for mask_incorrect.', format: 'buzzer-pattern', default: '150,100,150' },
    quietStart: { doc: 'Quiet hours start (buzzer silent, lights stay on), HH:MM local time; "" is off.', format: 'clock-time', default: '' },
    quietEnd: { doc: 'Quiet hours end, HH:MM.', format: 'clock-time', default: '' },
  },
  mqtt: {
    enabled: { doc: 'Publish events over MQTT (else they stay in the outbox).', format: Boolean, default: true },
    url: { doc: 'Broker URL: mqtt://, mqtts://, ws:// or wss://.', format: String, default: 'mqtt://localhost:1883', env: 'MASKWATCH_MQTT_URL' },
    protocolVersion: { doc: 'MQTT protocol: 5, or 4 for 3.1.1.', format: [4, 5], default: 5 },
    prefix: { doc: 'Topic prefix: topics are <prefix>/<deviceId>/...', format: String, default: 'maskwatch' },
    clientId: { doc: 'Client id; "" means maskwatch-<deviceId>.', format: String, default: '' },
    username: { doc: 'User name; "" for none.', format: String, default: '', env: 'MASKWATCH_MQTT_USERNAME' },
    password: { doc: 'Password (prefer passwordFile or the environment variable).', format: String, default: '', sensitive: true, env: 'MASKWATCH_MQTT_PASSWORD' },
    passwordFile: { doc: 'File whose first line is the password.', format: String, default: '' },
    caFile: { doc: 'TLS CA certificate file.', format: String, default: '' },
    certFile: { doc: 'TLS client certificate file.', format: String, default: '' },
    keyFile: { doc: 'TLS client key file.', format: String, default: '' },
    rejectUnauthorized: { doc: 'Verify the broker certificate.', format: Boolean, default: true },
    keepaliveS: { doc: 'Keepalive in seconds.', format: 'nat', default: 30 },
    statsIntervalS: { doc: 'Seconds between stats messages; 0 is off.', format: 'nat', default: 60 },
    outboxMax: { doc: 'Most events kept in the on-disk outbox while the broker is away; the oldest are dropped and counted past it.', format: 'nat', default: 10000 },
    homeAssistant: { doc: 'Publish Home Assistant MQTT discovery.', format: Boolean, default: true },
    discoveryPrefix: { doc: 'Home Assistant discovery prefix.', format: String, default: 'homeassistant' },
  },
  systemd: {
    watchdog: { doc: 'Send WATCHDOG=1 while frames are processed (when systemd asks for it).', format: Boolean, default: true },
  },
};

export type MaskwatchConfig = ReturnType<ReturnType<typeof convict<SchemaShape>>['getProperties']>;
type SchemaShape = ConfigShape<typeof schema>;
type ConfigShape<S> = {
  [K in keyof S]: S[K] extends { default: infer D } ? Widen<D> : ConfigShape<S[K]>;
};
type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T;
