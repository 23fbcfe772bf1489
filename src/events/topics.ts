/**
 * The MQTT topic map: every topic under `<prefix>/<deviceId>/`, its payload type, QoS and retain flag.
 * docs/MQTT.md documents the same topics (a test checks that each one appears there).
 */
import { topicPartProblem } from '../config/formats.js';
import type { DaemonState, DaemonStats, CommandName, SourceState } from '../core/seams.js';
import type { Label } from '../core/types.js';

export type Availability = 'online' | 'offline';

/** One person, decided. Published once (QoS 1, at least once: consumers dedupe by `id`). */
export interface EventPayload {
  id: string;
  /**
   * +1 per event per device, across restarts; a gap means an event was dropped from a full outbox (outboxDropped).
   * null: the event could not be written to disk (full or read-only) and was sent live, once, without a number.
   */
  seq: number | null;
  ts: string;
  device: string;
  /** The camera that saw the person: its device (`v4l2:/dev/video0`, `libcamera`, …) or `demo`. */
  source: string;
  /** The tracker's id of the person, also in the person topic's entered/left messages. */
  trackId: number;
  label: Label;
  /** The label again, under the name Home Assistant's MQTT event entity reads (its other fields become the event's attributes). */
  event_type: Label;
  score: number;
  frames: number;
  durationMs: number;
  model: { name: string; sha256: string };
}

export type StatePayload = DaemonState;

/** A person came into view or left it: live, not stored (the decision is the event). */
export interface PersonPayload {
  type: 'entered' | 'left';
  trackId: number;
  /** Decided label when leaving, or null (left undecided / just entered). */
  label: Label | null;
  /** On leaving: frames seen and time in view. */
  frames?: number;
  durationMs?: number;
  /** On leaving undecided after tracker.minFrames frames: the median's best label, below tracker.confidence. */
  unsure?: { label: Label; score: number };
  source: string;
  ts: string;
}

export interface StatsPayload extends DaemonStats {
  ts: string;
  /** Events dropped from a full outbox since the state dir was created (persisted). */
  outboxDropped: number;
  /** Events that could not be written to the outbox (full or read-only disk); they got no seq (persisted). */
  outboxNotStored: number;
}

export interface CameraPayload {
  state: SourceState;
  detail: string | null;
  ts: string;
}

/** Whether the buzzer is muted now and until when (wall clock, ISO 8601); the Home Assistant mute switch shows it. */
export interface MutePayload {
  muted: boolean;
  until: string | null;
  ts: string;
}

/** Every camera state, for Home Assistant's enum sensor (a Record, so a new SourceState cannot be left out). */
export const SOURCE_STATES = Object.keys({ starting: 0, streaming: 0, retrying: 0, ended: 0, stopped: 0 } satisfies Record<SourceState, 0>) as SourceState[];

/** Events per label since the state dir was created (persisted); feeds the Home Assistant counters. */
export type CountsPayload = Record<Label, number>;

export interface TopicPayloads {
  availability: Availability;
  event: EventPayload;
  person: PersonPayload;
  state: StatePayload;
  stats: StatsPayload;
  camera: CameraPayload;
  counts: CountsPayload;
  mute: MutePayload;
}
export type TopicName = keyof TopicPayloads;

export interface TopicSpec {
  qos: 0 | 1;
  retain: boolean;
}

export const TOPICS: { readonly [K in TopicName]: TopicSpec } = {
  availability: { qos: 1, retain: true },
  event: { qos: 1, retain: false },
  person: { qos: 0, retain: false },
  state: { qos: 0, retain: true },
  stats: { qos: 0, retain: false },
  camera: { qos: 0, retain: true },
  counts: { qos: 0, retain: true },
  mute: { qos: 0, retain: true },
};

export const COMMAND_NAMES: readonly CommandName[] = ['lamp-test', 'mute', 'reload-model'];

/** Reply on `cmd/<name>/result`; `id` echoes the request's id when it had one. */
export interface CommandReply {
  ok: boolean;
  message: string;
  id?: string | number;
}

/** Topic names under one device. */
export class Topics {
  readonly base: string;

  constructor(prefix: string, deviceId: string) {
    this.base = `${prefix}/${deviceId}`;
  }

  topic(name: TopicName): string {
    return `${this.base}/${name}`;
  }
  /** The subscription for every command. */
  commandFilter(): string {
    return `${this.base}/cmd/+`;
  }
  command(name: string): string {
    return `${this.base}/cmd/${name}`;
  }
  commandResult(name: string): string {
    return `${this.base}/cmd/${name}/result`;
  }
  /** The only level an MQTT 5 response topic may point into. */
  replyPrefix(): string {
    return `${this.base}/reply/`;
  }
  /** The command name of a topic matched by commandFilter(), or null. */
  commandName(topic: string): string | null {
    const head = `${this.base}/cmd/`;
    if (!topic.startsWith(head)) return null;
    const name = topic.slice(head.length);
    return name && !name.includes('/') ? name : null;
  }
}

export function encodePayload<K extends TopicName>(_name: K, payload: TopicPayloads[K]): string {
  return typeof payload === 'string' ? payload : JSON.stringify(payload);
}

/** Topic levels we put our own names into: the config schema's rule (src/config/formats.ts), checked again at start. */
export function checkTopicPart(what: string, value: string, allowSlash: boolean): void {
  const problem = topicPartProblem(value, allowSlash);
  if (problem) throw new Error(`${what} '${value}': ${problem}`);
}
