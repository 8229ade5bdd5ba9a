import { defineConfig } from "vite";

// The console is served by citysnap itself at `/`, its assets under `/assets/`.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: { "/v1": "http://127.0.0.1:8080", "/tiles": "http://127.0.0.1:8080" },
  },
});
