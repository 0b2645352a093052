// SVG to PNG on the server, with @resvg/resvg-js (a prebuilt Rust renderer; no browser) and the system fonts.
import { Resvg } from '@resvg/resvg-js';

export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
