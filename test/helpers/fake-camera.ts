import type { Clock } from '../../src/core/clock.js';
import { FrameSourceBase } from '../../src/source/frame-source-base.js';

/**
 * A camera device, which this machine does not have: the test hands it each JPEG (`push`), and can make it vanish
 * (`vanish`, state `retrying`) and come back. Everything after the camera (decode, detector, classifier) is real.
 */
export class FakeCamera extends FrameSourceBase {
  readonly description: string;

  constructor(clock: Clock, description = 'v4l2:/dev/video9') {
    super(clock);
    this.description = description;
  }

  async start(): Promise<void> {
    this.setState('streaming');
  }

  async stop(): Promise<void> {
    this.setState('stopped');
  }

  push(jpeg: Buffer): void {
    if (this.state === 'streaming') this.deliver(jpeg);
  }

  vanish(detail: string): void {
    this.setState('retrying', detail);
  }

  comeBack(): void {
    this.setState('streaming');
  }
}
