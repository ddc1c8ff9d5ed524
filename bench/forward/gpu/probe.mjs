// Prints whether Dawn finds an adapter for a backend: node probe.mjs vulkan|opengl
import { create } from 'webgpu';
const api = process.argv[2];
const gpu = create([`backend=${api}`]);
const a = await gpu.requestAdapter({
  powerPreference: 'high-performance',
  featureLevel: api === 'opengl' ? 'compatibility' : 'core',
});
console.log(a ? `${api}: ${a.info.description} | ${a.info.device} | ${a.info.vendor}` : `${api}: none`);
process.exit(a ? 0 : 1);
