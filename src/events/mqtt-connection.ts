/**
 * The broker connection, and only that: URL, TLS files and the password (from the config, a file, the URL or the
 * environment; never logged), the last will, reconnecting with a doubling back-off (also after a refused CONNACK: a
 * wrong password fixed on the broker side is picked up), one log line per change of reachability, and a bounded stop.
 */
import fs from 'node:fs';
import mqtt, { type IClientOptions, type IClientPublishOptions, type IClientSubscribeOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { MaskwatchConfig } from '../config/schema.js';
import { createLogger, errorMessage, registerSecret } from '../core/log.js';
import { quoteUntrusted } from './untrusted.js';

const log = createLogger('mqtt');

/** The largest packet the broker may send us (MQTT 5's Maximum Packet Size): commands are at most 4 KiB. */
export const MAX_INCOMING_PACKET = 64 * 1024;
const STOP_STEP_MS = 500;

export interface ConnectionOptions {
  mqtt: MaskwatchConfig['mqtt'];
  clientId: string;
  /** Published by the broker when the connection drops, and by stop() before closing. */
  will: { topic: string; payload: string };
  /** Where MASKWATCH_MQTT_PASSWORD is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** First reconnect wait; doubles after each failed attempt up to reconnectMaxMs. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
  /** How long stop() waits for the broker to take the last words, and then for the close (default STOP_STEP_MS each). */
  stopTimeoutMs?: number;
  /** Said in the line that reports the broker away, e.g. where the events wait meanwhile. */
  whileAway?: () => string;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

export class MqttConnection {
  private client: MqttClient | null = null;
  private readonly connectListeners: Array<() => void> = [];
  private readonly messageListeners: MessageHandler[] = [];
  private safe = '';
  private everConnected = false;
  private wasConnected = false;
  private unreachableLogged = false;
  private lastError = '';
  private stopping = false;

  constructor(private readonly opts: ConnectionOptions) {}

  /** The broker URL without user name or password, for log lines. */
  get safeUrl(): string {
    return this.safe;
  }

  get connected(): boolean {
    return this.client?.connected === true && !this.stopping;
  }

  /** Runs on every (re)connection, in subscription order. */
  onConnect(fn: () => void): void {
    this.connectListeners.push(fn);
  }

  onMessage(fn: MessageHandler): void {
    this.messageListeners.push(fn);
  }

  /** Connects in the background; throws (one line naming the key) on a bad URL or an unreadable TLS/password file. */
  start(): void {
    const { url, options } = this.clientOptions();
    const client = mqtt.connect(url, options);
    this.client = client;
    client.on('connect', () => this.connectedNow(client));
    client.on('close', () => this.closed(client));
    client.on('error', (err) => this.failed(err));
    client.on('message', (topic, payload, packet) => {
      // A listener's error must not escape into MQTT.js's stream handling, where it would end the process.
      for (const fn of this.messageListeners) {
        try {
          fn(topic, payload, packet);
        } catch (err) {
          log.error(`a message on ${quoteUntrusted(topic, 80)} could not be handled: ${errorMessage(err)}`);
        }
      }
    });
  }

  /** Publishes when connected; false (nothing sent) otherwise. The callback gets the broker's acknowledgement (QoS 1). */
  publish(topic: string, payload: string | Buffer, options: IClientPublishOptions, done?: (err?: Error) => void): boolean {
    const client = this.client;
    if (!client || !this.connected) return false;
    try {
      client.publish(topic, payload, options, (err) => done?.(err ?? undefined));
    } catch (err) {
      log.warn(`cannot publish on ${quoteUntrusted(topic, 80)}: ${errorMessage(err)}`);
      return false;
    }
    return true;
  }

  subscribe(filter: string, options: IClientSubscribeOptions): void {
    this.client?.subscribe(filter, options, (err) => {
      if (err) log.warn(`cannot subscribe to ${filter}: ${errorMessage(err)}`);
    });
  }

  /** Publishes the last words (retained) if connected, then closes; never waits longer than stopTimeoutMs per step. */
  async stop(): Promise<void> {
    this.stopping = true;
    const client = this.client;
    this.client = null;
    if (!client) return;
    // Both steps fit in the daemon's own stop deadline (1.8 s for everything) even when the broker does not answer.
    const deadline = this.opts.stopTimeoutMs ?? STOP_STEP_MS;
    if (client.connected) {
      try {
        await withDeadline(client.publishAsync(this.opts.will.topic, this.opts.will.payload, { qos: 1, retain: true }), deadline, `publishing ${this.opts.will.payload}`);
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
      await client.endAsync(true).catch((err: unknown) => log.warn(`stop: ${errorMessage(err)}`));
    }
  }

  private connectedNow(client: MqttClient): void {
    if (this.stopping) return;
    this.everConnected = true;
    this.wasConnected = true;
    this.unreachableLogged = false;
    this.lastError = '';
    client.options.reconnectPeriod = this.opts.reconnectInitialMs ?? 1000;
    for (const fn of this.connectListeners) fn();
  }

  private closed(client: MqttClient): void {
    if (this.stopping) return;
    const next = Math.min(this.opts.reconnectMaxMs ?? 30_000, Math.max(client.options.reconnectPeriod ?? 1000, 1) * 2);
    if (this.wasConnected) {
      this.wasConnected = false;
      log.warn(`connection to ${this.safe} lost; ${this.awayNote()}retrying in the background`);
    } else if (!this.unreachableLogged) {
      this.unreachableLogged = true;
      const why = this.lastError ? ` (${this.lastError})` : '';
      log.warn(`broker ${this.safe} ${this.everConnected ? 'does not answer' : 'unreachable'}${why}; ${this.awayNote()}retrying in the background, next try in ${client.options.reconnectPeriod ?? 1000} ms and then up to every ${Math.round((this.opts.reconnectMaxMs ?? 30_000) / 1000)} s`);
    } else {
      log.debug(`reconnect failed${this.lastError ? `: ${this.lastError}` : ''}; next try in ${client.options.reconnectPeriod ?? 1000} ms`);
    }
    client.options.reconnectPeriod = next;
  }

  private awayNote(): string {
    const note = this.opts.whileAway?.();
    return note ? `${note}; ` : '';
  }

  private failed(err: Error): void {
    const message = errorMessage(err);
    if (message !== this.lastError && this.unreachableLogged) log.warn(`broker ${this.safe}: ${message}`);
    else log.debug(`broker ${this.safe}: ${message}`);
    this.lastError = message;
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
    const urlUser = decodedUserPart(parsed.username, 'user name');
    const urlPassword = decodedUserPart(parsed.password, 'password');
    registerSecret(urlPassword);
    parsed.username = '';
    parsed.password = '';
    this.safe = `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
    const options: IClientOptions = {
      protocolVersion: m.protocolVersion,
      clientId: this.opts.clientId,
      keepalive: m.keepaliveS,
      clean: true,
      resubscribe: false,
      queueQoSZero: false,
      reconnectPeriod: this.opts.reconnectInitialMs ?? 1000,
      // A CONNACK refused (bad credentials, not authorised) is retried too: the broker may be fixed meanwhile.
      reconnectOnConnackError: true,
      connectTimeout: this.opts.connectTimeoutMs ?? 10_000,
      will: { topic: this.opts.will.topic, payload: Buffer.from(this.opts.will.payload), qos: 1, retain: true },
      username: m.username || urlUser || undefined,
      password: this.password() || urlPassword || undefined,
      rejectUnauthorized: m.rejectUnauthorized,
      // The daemon receives only commands and Home Assistant's status: the broker drops anything bigger for us (MQTT 5).
      ...(m.protocolVersion === 5 ? { properties: { maximumPacketSize: MAX_INCOMING_PACKET } } : {}),
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

function decodedUserPart(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`mqtt.url: the ${what} in it has a malformed %-escape (write a % as %25)`);
  }
}

function readTlsFile(key: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${key} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorMessage(err)}`);
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
