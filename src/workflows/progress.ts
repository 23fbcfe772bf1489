import cliProgress from 'cli-progress';

/** A progress bar on stderr (shown only on a terminal, so logs and tests stay clean). */
export function createProgressBar(title: string, format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format: `${title} ${format}`, stream: process.stderr, hideCursor: true, etaBuffer: 50, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
}
