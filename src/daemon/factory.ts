import type { MaskwatchConfig } from '../config/schema.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger } from '../core/log.js';
import type { EventSink, Notifier } from '../core/seams.js';
import { IouTracker } from '../decision/tracker.js';
import { MqttEventSink } from '../events/mqtt-sink.js';
import { createGpioDriver } from '../signals/create-gpio-driver.js';
import { Lights, lightsOptionsFromConfig } from '../signals/lights.js';
import { createFrameSource } from '../source/create-frame-source.js';
import { SystemdNotifier } from '../system/notify.js';
import { resolveDetectorPrecision } from '../vision/create-face-detector.js';
import { detectorName } from '../vision/start-face-detector.js';
import { createMaskClassifier } from '../vision/mask-classifier.js';
import { createDaemonDetector } from '../vision/threaded-detector.js';
import { Daemon } from './daemon.js';

const log = createLogger('daemon');

export interface FactoryOverrides {
  clock?: Clock;
  sink?: EventSink;
  notifier?: Notifier;
}

/**
 * Builds the daemon from a validated config. Models are loaded (and their sha256 checked) here,
 * before anything starts, so a bad model is one error line and nothing else happens.
 */
export async function buildDaemon(config: MaskwatchConfig, overrides: FactoryOverrides = {}): Promise<Daemon> {
  const clock = overrides.clock ?? systemClock;
  const loadClassifier = () => createMaskClassifier({ modelDir: config.classifier.modelDir, precision: config.classifier.precision, stateDir: config.stateDir });
  const classifier = await loadClassifier();
  const { settings: detectorSettings, report: detectorPrecision } = await resolveDetectorPrecision(config.detector, { stateDir: config.stateDir });
  const detector = await createDaemonDetector(detectorSettings);
  const driver = createGpioDriver(config.signals);
  const signals = new Lights(driver, lightsOptionsFromConfig(config.signals), clock);
  log.info(`gpio: ${driver.name}; classifier ${classifier.info.name} ${classifier.info.precision}; detector ${detectorName(detectorSettings)}`);
  return new Daemon({
    source: createFrameSource(config, clock),
    detector,
    classifier,
    loadClassifier,
    tracker: new IouTracker(config.tracker),
    signals,
    sink: overrides.sink ?? new MqttEventSink({ mqtt: config.mqtt, deviceId: config.deviceId, stateDir: config.stateDir, clock, modelName: classifier.info.name }),
    notifier: overrides.notifier ?? new SystemdNotifier(),
    clock,
    holdMs: config.signals.holdMs,
    fusionWeight: config.classifier.detectorScoreWeight,
    statsIntervalMs: config.mqtt.statsIntervalS * 1000,
    idle: { idleAfterMs: config.detector.idleAfterS * 1000, idleFps: config.detector.idleFps },
    detectorPrecision,
    watchdog: config.systemd.watchdog,
  });
}
