/**
 * The daemon's outputs, each subscribed to the bus (Frigate style: outputs follow the state, the pipeline calls none).
 * Each has start() (subscribe) and stop() (unsubscribe; the MQTT one first waits for the events it is storing).
 */
import type { EventBus } from '../core/bus.js';
import type { DaemonEvents } from '../core/daemon-events.js';
import { createLogger, errorMessage } from '../core/log.js';
import type { EventSink, Signals } from '../core/seams.js';

const log = createLogger('outputs');

type Bus = EventBus<DaemonEvents>;

abstract class BusOutput {
  private unsubscribe: Array<() => void> = [];

  constructor(protected readonly bus: Bus) {}

  protected abstract subscriptions(): Array<() => void>;

  start(): void {
    this.unsubscribe = this.subscriptions();
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }
}

/** The LEDs show the door state's light; each decided person gets their label's buzzer pattern. */
export class LightsOutput extends BusOutput {
  constructor(
    bus: Bus,
    private readonly signals: Signals,
  ) {
    super(bus);
  }

  protected subscriptions(): Array<() => void> {
    return [
      this.bus.on('state.changed', 'lights', (state) => this.signals.setLight(state.light)),
      this.bus.on('person.decided', 'buzzer', ({ decision }) => this.signals.buzz(decision.label)),
    ];
  }
}

/** Events into the outbox (durable), and the live topics: person, state, camera, stats, mute. */
export class MqttOutput extends BusOutput {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    bus: Bus,
    private readonly sink: EventSink,
  ) {
    super(bus);
  }

  protected subscriptions(): Array<() => void> {
    return [
      this.bus.on('person.decided', 'mqtt', (decided) => {
        const stored = this.sink.publishEvent(decided);
        this.pending.add(stored);
        stored.catch((err) => log.error(`event for person ${decided.decision.trackId} not stored: ${errorMessage(err)}`)).finally(() => this.pending.delete(stored));
      }),
      this.bus.on('person.entered', 'mqtt', (p) => this.sink.publishPerson(p)),
      this.bus.on('person.left', 'mqtt', (p) => this.sink.publishPerson(p)),
      this.bus.on('state.changed', 'mqtt', (state) => this.sink.publishState(state)),
      this.bus.on('camera.changed', 'mqtt', (c) => this.sink.publishCameraState(c.state, c.detail)),
      this.bus.on('stats', 'mqtt', (s) => this.sink.publishStats(s)),
      this.bus.on('mute.changed', 'mqtt', (m) => this.sink.publishMute(m)),
    ];
  }

  /** Unsubscribes, then waits until every event it was handed is stored (or failed with its error line). */
  override async stop(): Promise<void> {
    await super.stop();
    await Promise.allSettled([...this.pending]);
  }
}
