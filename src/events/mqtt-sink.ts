/**
 * EventSink over MQTT: the durable outbox (every event is stored before it counts as sent), the broker connection,
 * the relay that drains the outbox in seq order, Home Assistant discovery and the command router, put together.
 */
import { randomUUID } from 'node:crypto';
import type { MaskwatchConfig } from '../config/schema.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { MuteChanged, PersonDecided, PersonEntered, PersonLeft } from '../core/person-events.js';
import { createLogger, errorMessage } from '../core/log.js';
import { PACKAGE_VERSION } from '../core/paths.js';
import type { CommandHandler, DaemonState, DaemonStats, EventSink, SourceState } from '../core/seams.js';
import { CommandRouter } from './command-router.js';
import { HaDiscovery } from './discovery.js';
import { MqttConnection } from './mqtt-connection.js';
import { Outbox } from './outbox.js';
import { OutboxRelay } from './outbox-relay.js';
import { checkTopicPart, encodePayload, Topics, TOPICS, type CameraPayload, type EventPayload, type MutePayload, type TopicName, type TopicPayloads } from './topics.js';

const log = createLogger('mqtt');

export interface MqttSinkOptions {
  mqtt: MaskwatchConfig['mqtt'];
  deviceId: string;
  stateDir: string;
  clock?: Clock;
  /** Where MASKWATCH_MQTT_PASSWORD is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** Events published but not yet acknowledged, at most. */
  inFlightMax?: number;
  /** Shown as the Home Assistant device model. */
  modelName?: string;
}

export class MqttEventSink implements EventSink {
  private readonly outbox: Outbox;
  private readonly topics: Topics;
  private readonly connection: MqttConnection;
  private readonly relay: OutboxRelay;
  private readonly commands: CommandRouter;
  private readonly discovery: HaDiscovery;
  private lastState: DaemonState | null = null;
  private lastCamera: CameraPayload | null = null;
  private lastMute: MutePayload | null = null;
  private stopped = false;

  constructor(private readonly opts: MqttSinkOptions) {
    const m = opts.mqtt;
    this.outbox = new Outbox({ stateDir: opts.stateDir, max: m.outboxMax });
    this.topics = new Topics(m.prefix, opts.deviceId);
    this.connection = new MqttConnection({
      mqtt: m,
      clientId: m.clientId || `maskwatch-${opts.deviceId}`,
      will: { topic: this.topics.topic('availability'), payload: 'offline' },
      env: opts.env,
      reconnectInitialMs: opts.reconnectInitialMs,
      reconnectMaxMs: opts.reconnectMaxMs,
      connectTimeoutMs: opts.connectTimeoutMs,
      stopTimeoutMs: opts.stopTimeoutMs,
      whileAway: () => `events wait in the outbox ${this.outbox.dir} (${this.outbox.depth()} now) and are sent when it answers`,
    });
    this.relay = new OutboxRelay(this.outbox, this.connection, this.topics.topic('event'), opts.inFlightMax);
    this.commands = new CommandRouter(this.connection, this.topics, { protocolVersion: m.protocolVersion });
    this.discovery = new HaDiscovery(this.connection, {
      enabled: m.homeAssistant,
      discoveryPrefix: m.discoveryPrefix,
      deviceId: opts.deviceId,
      topics: this.topics,
      swVersion: PACKAGE_VERSION,
      modelName: opts.modelName,
      stats: m.statsIntervalS > 0,
    }, opts.clock);
  }

  private get clock(): Clock {
    return this.opts.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const m = this.opts.mqtt;
    checkTopicPart('deviceId', this.opts.deviceId, false);
    checkTopicPart('mqtt.prefix', m.prefix, true);
    checkTopicPart('mqtt.discoveryPrefix', m.discoveryPrefix, true);
    this.outbox.start();
    if (!m.enabled) {
      log.info(`mqtt.enabled is false: events stay in the outbox ${this.outbox.dir}`);
      return;
    }
    this.connection.onConnect(() => this.announceOnConnect());
    this.commands.start();
    this.discovery.start();
    this.connection.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.discovery.stop();
    try {
      await this.outbox.idle();
    } catch (err) {
      log.warn(`stop: ${errorMessage(err)}`);
    }
    await this.connection.stop();
    const waiting = this.outbox.depth();
    if (waiting) log.info(`stopped; ${waiting} event(s) stay in the outbox for the next start`);
  }

  /**
   * Stores the event in the outbox and sends it from there. An event the disk does not take (full, read-only) is sent
   * live without a seq when the broker is there, so the person is not lost, and the call still rejects (one line).
   */
  async publishEvent({ decision, model, source }: PersonDecided): Promise<void> {
    const eventWith = (seq: number | null): EventPayload => ({
      id: randomUUID(),
      seq,
      ts: this.clock.date().toISOString(),
      device: this.opts.deviceId,
      source,
      trackId: decision.trackId,
      label: decision.label,
      event_type: decision.label,
      score: round3(decision.score),
      frames: decision.frames,
      durationMs: Math.round(decision.durationMs),
      model: { name: model.name, sha256: model.sha256 },
    });
    try {
      await this.outbox.add((seq) => ({ payload: encodePayload('event', eventWith(seq)), label: decision.label }));
    } catch (err) {
      const live = !this.stopped && this.connection.publish(this.topics.topic('event'), encodePayload('event', eventWith(null)), { qos: TOPICS.event.qos, retain: false });
      this.publish('counts', this.outbox.counts());
      throw new Error(`event not saved to the outbox ${this.outbox.dir}: ${errorMessage(err)}; ${live ? 'sent live without a seq' : 'lost: the broker is not connected either'}`);
    }
    this.publish('counts', this.outbox.counts());
    this.relay.drain();
  }

  publishPerson(change: PersonEntered | PersonLeft): void {
    const ts = this.clock.date().toISOString();
    if ('label' in change) {
      const unsure = change.unsure ? { unsure: { label: change.unsure.label, score: Number(change.unsure.score.toFixed(3)) } } : {};
      this.publish('person', { type: 'left', trackId: change.trackId, label: change.label, frames: change.frames, durationMs: Math.round(change.durationMs), ...unsure, source: change.source, ts });
    }
    else this.publish('person', { type: 'entered', trackId: change.trackId, label: null, source: change.source, ts });
  }

  publishState(state: DaemonState): void {
    this.lastState = { ...state };
    this.publish('state', this.lastState);
  }

  publishStats(stats: DaemonStats): void {
    this.publish('stats', { ...stats, outboxDepth: this.outbox.depth(), outboxDropped: this.outbox.dropped(), outboxNotStored: this.outbox.notStored(), ts: this.clock.date().toISOString() });
  }

  publishCameraState(state: SourceState, detail?: string): void {
    this.lastCamera = { state, detail: detail ?? null, ts: this.clock.date().toISOString() };
    this.publish('camera', this.lastCamera);
  }

  publishMute({ muted, until }: MuteChanged): void {
    this.lastMute = { muted, until: until ? until.toISOString() : null, ts: this.clock.date().toISOString() };
    this.publish('mute', this.lastMute);
  }

  onCommand(handler: CommandHandler): void {
    this.commands.setHandler(handler);
  }

  outboxDepth(): number {
    return this.outbox.depth();
  }

  /** Events dropped from a full outbox so far (persisted across restarts). */
  outboxDropped(): number {
    return this.outbox.dropped();
  }

  /** True while the broker connection is up. */
  get connected(): boolean {
    return this.connection.connected;
  }

  private publish<K extends TopicName>(name: K, payload: TopicPayloads[K]): void {
    if (this.stopped) return;
    const { qos, retain } = TOPICS[name];
    this.connection.publish(this.topics.topic(name), encodePayload(name, payload), { qos, retain }, (err) => {
      if (err) log.debug(`${name} not published: ${errorMessage(err)}`);
    });
  }

  private announceOnConnect(): void {
    const waiting = this.outbox.depth();
    log.info(`connected to ${this.connection.safeUrl}${waiting ? `; delivering ${waiting} event(s) from the outbox` : ''}`);
    this.connection.publish(this.topics.topic('availability'), 'online', { qos: 1, retain: true });
    this.publish('counts', this.outbox.counts());
    if (this.lastState) this.publish('state', this.lastState);
    if (this.lastCamera) this.publish('camera', this.lastCamera);
    if (this.lastMute) this.publish('mute', this.lastMute);
    this.relay.drain();
  }
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
