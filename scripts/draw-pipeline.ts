/** Draws docs/pipeline.png, the picture of one frame's way through the daemon, from an SVG. */
import sharp from 'sharp';

const boxes: Array<[string, string, string]> = [
  ['Camera process', 'ffmpeg · rpicam-vid · gst-launch', '#e8eef7'],
  ['FrameSource', 'MJPEG split, newest frame wins', '#e8eef7'],
  ['Face-mask SSD', 'finds masked faces too, int8', '#eef7e8'],
  ['MobileNetV2', 'mask · no_mask · mask_incorrect', '#eef7e8'],
  ['Tracker + door', 'median of recent scores, the light', '#f7f1e8'],
];
const W = 1180;
const bw = 200;
const gap = (W - 40 - boxes.length * bw) / (boxes.length - 1);
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="330" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<defs><marker id="a" markerWidth="10" markerHeight="10" refX="9" refY="5" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>
<text x="20" y="32" font-size="20" font-weight="bold">maskwatch: one frame's way through the daemon</text>`;
boxes.forEach(([title, sub, fill], i) => {
  const x = 20 + i * (bw + gap);
  svg += `<rect x="${x}" y="70" width="${bw}" height="80" rx="10" fill="${fill}" stroke="#667"/>
<text x="${x + bw / 2}" y="104" font-size="17" text-anchor="middle" font-weight="bold">${title}</text>
<text x="${x + bw / 2}" y="128" font-size="11.5" text-anchor="middle" fill="#333">${sub.length > 34 ? sub.slice(0, 31) + '…' : sub}</text>`;
  if (i < boxes.length - 1) svg += `<line x1="${x + bw}" y1="110" x2="${x + bw + gap - 4}" y2="110" stroke="#555" stroke-width="2" marker-end="url(#a)"/>`;
});
const tx = 20 + 4 * (bw + gap) + bw / 2;
const outs: Array<[string, string, number]> = [
  ['Lights + buzzer', 'GPIO: green · red · amber', 560],
  ['MQTT events', 'durable outbox · Home Assistant', 800],
  ['systemd', 'READY · STATUS · WATCHDOG', 1040],
];
for (const [title, sub, cx] of outs) {
  svg += `<path d="M${tx},150 C${tx},200 ${cx},180 ${cx},228" fill="none" stroke="#555" stroke-width="2" marker-end="url(#a)"/>
<rect x="${cx - 110}" y="230" width="220" height="70" rx="10" fill="#f3e8f7" stroke="#667"/>
<text x="${cx}" y="260" font-size="17" text-anchor="middle" font-weight="bold">${title}</text>
<text x="${cx}" y="282" font-size="12" text-anchor="middle" fill="#333">${sub}</text>`;
}
svg += `<circle cx="90" cy="265" r="14" fill="#2e9e44"/><circle cx="130" cy="265" r="14" fill="#d33"/><circle cx="170" cy="265" r="14" fill="#f0a020"/>
<text x="210" y="262" font-size="13">mask · no_mask · mask_incorrect</text><text x="210" y="280" font-size="12" fill="#555">one event per person</text></svg>`;
await sharp(Buffer.from(svg)).png().toFile(new URL('../docs/pipeline.png', import.meta.url).pathname);
console.log('wrote docs/pipeline.png');
