// Builds the UI into the Python package, where `netweave serve` serves it at /.
// `npm run dev` serves it with hot reload, the API proxied to a netweave serving on :8080.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: "../src/netweave/web/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080" },
  },
});
