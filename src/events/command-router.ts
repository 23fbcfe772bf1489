/**
 * Commands from MQTT (`<prefix>/<deviceId>/cmd/<name>`), which anyone allowed to publish there can send: each is
 * checked before any handler runs, handled one at a time (a bounded queue; a command already waiting is not queued
 * twice), and answered on `cmd/<name>/result`. Retained commands are refused (a retained request would run again
 * at every restart). An MQTT 5 response topic is honoured only under the device's own `reply/` level, so a request
 * cannot make the daemon write to its event topic or anywhere else it may publish. Nothing from the request reaches
 * a log line unescaped. An empty message is not a request: it is how a retained one is cleared, and a broker passes
 * the clearing on to live subscribers without the retain flag under MQTT 3.1.1. A name longer than any command gets no
 * reply (its result topic could exceed MQTT's topic length).
 */
import type { IPublishPacket } from 'mqtt';
import { createLogger, errorMessage } from '../core/log.js';
import type { CommandHandler, CommandName } from '../core/seams.js';
import { parseCommand } from './commands.js';
import type { MqttConnection } from './mqtt-connection.js';
import type { CommandReply, Topics } from './topics.js';
import { quoteUntrusted } from './untrusted.js';

const log = createLogger('commands');

/** Longer than any command name: such a request is dropped unanswered. */
export const COMMAND_NAME_MAX = 64;

export interface CommandRouterOptions {
  /** Commands waiting at most (the one running not counted); more are answered "busy". */
  queueMax?: number;
  protocolVersion: 4 | 5;
}

export class CommandRouter {
  private handler: CommandHandler | null = null;
  private queue: Promise<void> = Promise.resolve();
  private waiting = new Map<CommandName, number>();
  private waitingTotal = 0;
  private refusedRetained = 0;
  private droppedLongNames = 0;

  constructor(
    private readonly connection: MqttConnection,
    private readonly topics: Topics,
    private readonly opts: CommandRouterOptions,
  ) {}

  setHandler(handler: CommandHandler): void {
    this.handler = handler;
  }

  /** Subscribes on every connection and listens for requests. */
  start(): void {
    this.connection.onConnect(() =>
      // rap: the broker keeps the retain flag of live messages, so a retained request is recognised as one (MQTT 5).
      this.connection.subscribe(this.topics.commandFilter(), { qos: 1, ...(this.opts.protocolVersion === 5 ? { rap: true } : {}) }),
    );
    this.connection.onMessage((topic, payload, packet) => {
      const name = this.topics.commandName(topic);
      if (name !== null) this.received(name, payload, packet);
    });
  }

  /** Resolves when every accepted command has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  private received(name: string, payload: Buffer, packet: IPublishPacket): void {
    // Before the retain check: the clearing itself arrives retained under MQTT 5 and must not be warned about.
    if (payload.length === 0) return log.debug(`ignored an empty message on cmd/${quoteUntrusted(name)} (how a retained command is cleared); send {} to run it`);
    if (packet.retain) {
      if (this.refusedRetained++ % 100 === 0)
        log.warn(`refused a retained command on cmd/${quoteUntrusted(name)}: commands must not be retained (clear it with an empty retained message)${this.refusedRetained > 1 ? `; ${this.refusedRetained} refused so far` : ''}`);
      return;
    }
    if (name.length > COMMAND_NAME_MAX) {
      if (this.droppedLongNames++ % 100 === 0)
        log.warn(`ignored a command named ${quoteUntrusted(name, 40)} (${name.length} characters; no command is longer than ${COMMAND_NAME_MAX})${this.droppedLongNames > 1 ? `; ${this.droppedLongNames} ignored so far` : ''}`);
      return;
    }
    const parsed = parseCommand(name, payload);
    const responseTopic = this.responseTopic(packet);
    const answer = (reply: CommandReply) => this.reply(name, reply, responseTopic, packet.properties?.correlationData);
    const withId = (reply: CommandReply): CommandReply => (parsed.id === undefined ? reply : { ...reply, id: parsed.id });
    if (!parsed.ok) return answer(withId({ ok: false, message: parsed.message }));
    if ((this.waiting.get(parsed.name) ?? 0) > 0) return answer(withId({ ok: false, message: `${parsed.name} is already waiting to run; not queued twice` }));
    if (this.waitingTotal >= (this.opts.queueMax ?? 4)) return answer(withId({ ok: false, message: 'busy: too many commands waiting; try again later' }));
    this.waiting.set(parsed.name, (this.waiting.get(parsed.name) ?? 0) + 1);
    this.waitingTotal++;
    this.queue = this.queue.then(async () => {
      this.waiting.set(parsed.name, (this.waiting.get(parsed.name) ?? 1) - 1);
      this.waitingTotal--;
      let reply: CommandReply;
      if (!this.handler) {
        reply = { ok: false, message: 'not available yet (the daemon is starting)' };
      } else {
        try {
          reply = await this.handler(parsed.name, parsed.payload);
        } catch (err) {
          reply = { ok: false, message: `failed: ${errorMessage(err)}` };
        }
      }
      answer(withId({ ok: reply.ok, message: reply.message }));
    });
  }

  private reply(name: string, reply: CommandReply, responseTopic: string | null, correlationData: Buffer | undefined): void {
    (reply.ok ? log.info : log.warn)(`command ${quoteUntrusted(name)}: ${reply.message}`);
    const body = JSON.stringify(reply);
    this.connection.publish(this.topics.commandResult(name), body, { qos: 1, retain: false });
    if (responseTopic) this.connection.publish(responseTopic, body, { qos: 1, retain: false, properties: correlationData ? { correlationData } : {} });
  }

  private responseTopic(packet: IPublishPacket): string | null {
    const topic = packet.properties?.responseTopic;
    if (!topic) return null;
    const allowed = this.topics.replyPrefix();
    if (topic.startsWith(allowed) && topic.length > allowed.length && !/[#+\u0000]/.test(topic)) return topic;
    log.warn(`ignored the response topic ${quoteUntrusted(topic)}: replies go only under ${allowed}…`);
    return null;
  }
}
