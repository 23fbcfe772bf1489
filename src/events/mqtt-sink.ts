/**
 * EventSink over MQTT (MQTT.js v5). Every event goes through the durable outbox first; the outbox is
 * drained in seq order whenever the broker is there, and an event leaves it only on the broker's PUBACK.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { MaskwatchConfig } from '../config/schema.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger, errorMessage, registerSecret } from '../core/log.js';
import type { CommandHandler, DaemonState, DaemonStats, EventSink, SourceState } from '../core/seams.js';
import type { Decision } from '../core/types.js';
import { parseCommand } from './commands.js';
import { discoveryMessages, discoveryRemovals, type DiscoveryOptions } from './discovery.js';
import { Outbox } from './outbox.js';
import { checkTopicPart, encodePayload, Topics, TOPICS, type CameraPayload, type CommandReply, type EventPayload, type TopicName, type TopicPayloads } from './topics.js';

const log = createLogger('mqtt');
const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface MqttSinkOptions {
  mqtt: MaskwatchConfig['mqtt'];
  deviceId: string;
  stateDir: string;
  clock?: Clock;
  /** Where MASKWATCH_MQTT_PASSWORD is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** First reconnect wait; doubles after each failed attempt up to reconnectMaxMs. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
  /** How long stop() waits for the broker to take 'offline'. */
  stopTimeoutMs?: number;
  /** Events published but not yet acknowledged, at most. */
  inFlightMax?: number;
  /** Shown as the Home Assistant device model. */
  modelName?: string;
}

export class MqttEventSink implements EventSink {
  private readonly outbox: Outbox;
  private readonly topics: Topics;
  private client: MqttClient | null = null;
  private handler: CommandHandler | null = null;
  private lastState: DaemonState | null = null;
  private lastCamera: CameraPayload | null = null;
  private safeUrl = '';
  private everConnected = false;
  private wasConnected = false;
  private unreachableLogged = false;
  private lastError = '';
  private stopped = false;

  constructor(private readonly opts: MqttSinkOptions) {
    this.outbox = new Outbox({ stateDir: opts.stateDir, max: opts.mqtt.outboxMax });
    this.topics = new Topics(opts.mqtt.prefix, opts.deviceId);
  }

  private get clock(): Clock {
    return this.opts.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const m = this.opts.mqtt;
    checkTopicPart('deviceId', this.opts.deviceId, false);
    checkTopicPart('mqtt.prefix', m.prefix, true);
    if (m.homeAssistant) checkTopicPart('mqtt.discoveryPrefix', m.discoveryPrefix, true);
    this.outbox.start();
    if (!m.enabled) {
      log.info(`mqtt.enabled is false: events stay in the outbox ${this.outbox.dir}`);
      return;
    }
    const { url, options } = this.clientOptions();
    this.client = mqtt.connect(url, options);
    this.client.on('connect', () => this.onConnect());
    this.client.on('close', () => this.onClose());
    this.client.on('error', (err) => this.onError(err));
    this.client.on('message', (topic, payload, packet) => void this.onMessage(topic, payload, packet));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    try {
      await this.outbox.idle();
    } catch (err) {
      log.warn(`stop: ${errorMessage(err)}`);
    }
    const client = this.client;
    this.client = null;
    if (!client) return;
    const deadline = this.opts.stopTimeoutMs ?? 2000;
    if (client.connected) {
      try {
        await withDeadline(client.publishAsync(this.topics.topic('availability'), 'offline', { qos: 1, retain: true }), deadline, 'publishing offline');
      } catch (err) {
        log.warn(`stop: ${errorMessage(err)}`);
      }
      try {
        await withDeadline(client.endAsync(false), deadline, 'closing the connection');
      } catch (err) {
        log.warn(`stop: ${errorMessage(err)}`);
        client.stream?.destroy();
      }
    } else {
      try {
        await client.endAsync(true);
      } catch (err) {
        log.warn(`stop: ${errorMessage(err)}`);
      }
    }
    const waiting = this.outbox.depth();
    if (waiting) log.info(`stopped; ${waiting} event(s) stay in the outbox for the next start`);
  }

  async publishEvent(decision: Decision, model: { name: string; sha256: string }): Promise<void> {
    try {
      await this.outbox.add((seq) => {
        const event: EventPayload = {
          id: randomUUID(),
          seq,
          ts: this.clock.date().toISOString(),
          device: this.opts.deviceId,
          label: decision.label,
          score: round3(decision.score),
          frames: decision.frames,
          durationMs: Math.round(decision.durationMs),
          model: { name: model.name, sha256: model.sha256 },
        };
        return { payload: encodePayload('event', event), label: decision.label };
      });
    } catch (err) {
      throw new Error(`event not saved to the outbox ${this.outbox.dir}: ${errorMessage(err)}`);
    }
    this.publish('counts', this.outbox.counts());
    this.drain();
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

  onCommand(handler: CommandHandler): void {
    this.handler = handler;
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
    return this.client?.connected ?? false;
  }

  private publish<K extends TopicName>(name: K, payload: TopicPayloads[K]): void {
    const client = this.client;
    if (!client?.connected || this.stopped) return;
    const { qos, retain } = TOPICS[name];
    client.publish(this.topics.topic(name), encodePayload(name, payload), { qos, retain }, (err) => {
      if (err) log.debug(`${name} not published: ${errorMessage(err)}`);
    });
  }

  /** Hands waiting events to the client in seq order, keeping at most inFlightMax unacknowledged. */
  private drain(): void {
    const client = this.client;
    if (!client?.connected || this.stopped) return;
    const room = (this.opts.inFlightMax ?? 16) - this.outbox.inFlightCount();
    if (room <= 0) return;
    for (const entry of this.outbox.take(room)) {
      client.publish(this.topics.topic('event'), entry.payload, { qos: 1, retain: false }, (err) => {
        if (err) {
          this.outbox.release(entry.seq);
          return;
        }
        this.outbox.ack(entry.seq);
        this.drain();
      });
    }
  }

  private onConnect(): void {
    const client = this.client;
    if (!client) return;
    this.everConnected = true;
    this.wasConnected = true;
    this.unreachableLogged = false;
    client.options.reconnectPeriod = this.opts.reconnectInitialMs ?? 1000;
    const waiting = this.outbox.depth();
    log.info(`connected to ${this.safeUrl}${waiting ? `; delivering ${waiting} event(s) from the outbox` : ''}`);
    client.publish(this.topics.topic('availability'), 'online', { qos: 1, retain: true });
    client.subscribe(this.topics.commandFilter(), { qos: 1 }, (err) => {
      if (err) log.warn(`cannot subscribe to ${this.topics.commandFilter()}: ${errorMessage(err)}`);
    });
    if (this.opts.mqtt.homeAssistant) client.subscribe(this.haStatusTopic(), { qos: 0 });
    this.publishDiscovery(client);
    this.publish('counts', this.outbox.counts());
    if (this.lastState) this.publish('state', this.lastState);
    if (this.lastCamera) this.publish('camera', this.lastCamera);
    this.drain();
  }

  private onClose(): void {
    const client = this.client;
    if (!client || this.stopped) return;
    const next = Math.min(this.opts.reconnectMaxMs ?? 30_000, Math.max(client.options.reconnectPeriod ?? 1000, 1) * 2);
    if (this.wasConnected) {
      this.wasConnected = false;
      log.warn(`connection to ${this.safeUrl} lost; events go to the outbox until it is back (${this.outbox.depth()} waiting)`);
    } else if (!this.unreachableLogged) {
      this.unreachableLogged = true;
      const why = this.lastError ? ` (${this.lastError})` : '';
      const when = this.everConnected ? 'does not answer' : 'unreachable';
      log.warn(`broker ${this.safeUrl} ${when}${why}; events go to the outbox ${this.outbox.dir} and are sent when it answers (retrying in the background)`);
    } else {
      log.debug(`reconnect failed${this.lastError ? `: ${this.lastError}` : ''}; next try in ${next} ms`);
    }
    client.options.reconnectPeriod = next;
  }

  private onError(err: Error): void {
    const message = errorMessage(err);
    if (message !== this.lastError && this.unreachableLogged) log.warn(`broker ${this.safeUrl}: ${message}`);
    else log.debug(`broker ${this.safeUrl}: ${message}`);
    this.lastError = message;
  }

  private haStatusTopic(): string {
    return `${this.opts.mqtt.discoveryPrefix}/status`;
  }

  private async onMessage(topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    // Home Assistant announces its restarts; announce the entities again then.
    if (topic === this.haStatusTopic()) {
      if (payload.toString() === 'online' && this.client) this.publishDiscovery(this.client);
      return;
    }
    const name = this.topics.commandName(topic);
    if (name === null) return;
    if (packet.retain) {
      log.warn(`ignored a retained command on ${topic}: commands must not be retained (clear it with an empty retained message)`);
      return;
    }
    const parsed = parseCommand(name, payload);
    let reply: CommandReply;
    if (!parsed.ok) {
      reply = { ok: false, message: parsed.message };
    } else if (!this.handler) {
      reply = { ok: false, message: 'not available yet (the daemon is starting)' };
    } else {
      try {
        const result = await this.handler(parsed.name, parsed.payload);
        reply = { ok: result.ok, message: result.message };
      } catch (err) {
        reply = { ok: false, message: `failed: ${errorMessage(err)}` };
      }
    }
    if (parsed.id !== undefined) reply.id = parsed.id;
    (reply.ok ? log.info : log.warn)(`command ${name}: ${reply.message}`);
    const client = this.client;
    if (!client) return;
    const body = JSON.stringify(reply);
    client.publish(this.topics.commandResult(name), body, { qos: 1, retain: false });
    const responseTopic = packet.properties?.responseTopic;
    if (responseTopic && !/[#+]/.test(responseTopic)) {
      const correlationData = packet.properties?.correlationData;
      client.publish(responseTopic, body, { qos: 1, retain: false, properties: correlationData ? { correlationData } : {} });
    }
  }

  private publishDiscovery(client: MqttClient): void {
    const m = this.opts.mqtt;
    const o: DiscoveryOptions = { discoveryPrefix: m.discoveryPrefix, deviceId: this.opts.deviceId, topics: this.topics, swVersion: pkg.version, modelName: this.opts.modelName };
    // With discovery off, empty retained configs remove entities an earlier run announced.
    if (!m.homeAssistant && !checkedPrefix(m.discoveryPrefix)) return;
    for (const msg of m.homeAssistant ? discoveryMessages(o) : discoveryRemovals(o)) client.publish(msg.topic, msg.payload, { qos: 1, retain: true });
  }

  private clientOptions(): { url: string; options: IClientOptions } {
    const m = this.opts.mqtt;
    let parsed: URL;
    try {
      parsed = new URL(m.url);
    } catch {
      throw new Error('mqtt.url: not a valid URL (expected mqtt://host:1883, mqtts://, ws:// or wss://)');
    }
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(parsed.protocol)) throw new Error(`mqtt.url: protocol ${parsed.protocol} is not one of mqtt:, mqtts:, ws:, wss:`);
    const urlUser = decodeURIComponent(parsed.username);
    const urlPassword = decodeURIComponent(parsed.password);
    registerSecret(urlPassword);
    parsed.username = '';
    parsed.password = '';
    this.safeUrl = `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
    const password = this.password() || urlPassword || undefined;
    const options: IClientOptions = {
      protocolVersion: m.protocolVersion === 4 ? 4 : 5,
      clientId: m.clientId || `maskwatch-${this.opts.deviceId}`,
      keepalive: m.keepaliveS,
      clean: true,
      resubscribe: false,
      queueQoSZero: false,
      reconnectPeriod: this.opts.reconnectInitialMs ?? 1000,
      connectTimeout: this.opts.connectTimeoutMs ?? 10_000,
      will: { topic: this.topics.topic('availability'), payload: Buffer.from('offline'), qos: 1, retain: true },
      username: m.username || urlUser || undefined,
      password,
      rejectUnauthorized: m.rejectUnauthorized,
    };
    if (m.caFile) options.ca = readTlsFile('mqtt.caFile', m.caFile);
    if (m.certFile) options.cert = readTlsFile('mqtt.certFile', m.certFile);
    if (m.keyFile) options.key = readTlsFile('mqtt.keyFile', m.keyFile);
    return { url: parsed.toString(), options };
  }

  /** mqtt.password, else the first line of mqtt.passwordFile, else MASKWATCH_MQTT_PASSWORD. */
  private password(): string {
    const m = this.opts.mqtt;
    let password = m.password;
    if (!password && m.passwordFile) {
      try {
        password = fs.readFileSync(m.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
      } catch (err) {
        throw new Error(`mqtt.passwordFile ${m.passwordFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)}`);
      }
    }
    if (!password) password = (this.opts.env ?? process.env).MASKWATCH_MQTT_PASSWORD ?? '';
    registerSecret(password);
    return password;
  }
}

function readTlsFile(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${key} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)}`);
  }
}

function checkedPrefix(prefix: string): boolean {
  try {
    checkTopicPart('mqtt.discoveryPrefix', prefix, true);
    return true;
  } catch {
    return false;
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
