import { defineConfig, devices } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ADMIN, STORAGE_STATE } from "./tests/accounts";

// The server under test runs on its own port with a throw-away data folder, so a developer's running
// instance and its data are never touched. Two ways to get it:
// - default: the debug binary cargo-leptos built, serving target/site from the workspace;
// - E2E_DIST=<folder staged by scripts/build-release.sh>: the release tree the Docker image runs,
//   started from that folder with the image's environment (what users get).
const port = Number(process.env.E2E_PORT ?? 8123);
const baseURL = `http://127.0.0.1:${port}`;
const workspace = resolve(__dirname, "..");
const dist = process.env.E2E_DIST ? resolve(process.env.E2E_DIST) : undefined;
const dataDir = mkdtempSync(join(tmpdir(), "brainscan-e2e-"));
// Everything the server writes goes to the throw-away folder, whatever the caller's shell has set.
// scripts/test.sh's scale-out pass sets E2E_DATABASE_URL and E2E_STORAGE_URL: a fresh PostgreSQL
// database and bucket prefix (the AWS_* variables come from its environment) instead.
const writable = {
  DATA_ROOT: dataDir,
  DATABASE_URL: process.env.E2E_DATABASE_URL ?? `sqlite://${join(dataDir, "app.db")}`,
  STORAGE_URL: process.env.E2E_STORAGE_URL ?? "",
  UPLOAD_DIR: join(dataDir, "uploads"),
  MODEL_STORE: join(dataDir, "models"),
};
const server = dist
  ? {
      command: `${join(dist, "brainscan")} serve`,
      cwd: dist,
      env: {
        MODEL_DIR: join(dist, "models"),
        FEATURES_CSV: join(dist, "data/processed/image_features_train.csv"),
        LEPTOS_SITE_ROOT: join(dist, "site"),
      },
    }
  : {
      command: process.env.BRAINSCAN_BIN ?? join(workspace, "target/debug/brainscan"),
      cwd: workspace,
      env: {
        MODEL_DIR: join(workspace, "models"),
        LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? join(workspace, "target/site"),
      },
    };
// Results of the two builds are kept apart, so the release run does not overwrite the debug one.
const resultsDir = dist ? "test-results/release" : "test-results/debug";

// Debian's Chromium, never a downloaded browser. The flags keep it off the (closed) network.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  reporter: [
    ["list"],
    ["html", { outputFolder: dist ? "playwright-report/release" : "playwright-report/debug", open: "never" }],
  ],
  outputDir: resultsDir,
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: chromiumArgs,
    },
  },
  // The setup project logs in as the first admin; the others start from that session, and specs
  // that need a stranger or another role clear it.
  projects: [
    { name: "setup", testMatch: /auth\.setup\.ts/ },
    {
      name: "desktop",
      use: { ...devices["Desktop Chrome"], channel: undefined, storageState: STORAGE_STATE },
      dependencies: ["setup"],
    },
    {
      name: "phone",
      use: { ...devices["Pixel 7"], channel: undefined, storageState: STORAGE_STATE },
      grep: /@phone/,
      dependencies: ["setup"],
    },
  ],
  webServer: {
    command: server.command,
    cwd: server.cwd,
    url: `${baseURL}/health`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...writable,
      ...server.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      RUST_LOG: "warn",
      // A fresh deployment's first admin, as the Render Blueprint creates it.
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      // Every spec runs from 127.0.0.1, so one client's budget would be the whole suite's; the
      // limits themselves are tested over HTTP in server/tests/security.rs and hardening.rs.
      WRITES_PER_MINUTE: "100000",
      PREDICT_PER_MINUTE: "100000",
      UPLOADS_PER_MINUTE: "100000",
      LOGINS_PER_MINUTE: "100000",
      // Drift is judged on the last 30 predictions, so the drift spec reaches a verdict with a few
      // dozen phantom slices instead of hundreds.
      DRIFT_WINDOW: "30",
      READS_PER_MINUTE: "100000",
      REFUSED_PER_MINUTE: "100000",
      // The feedback loop needs kept slices; PostgreSQL deployments keep none unless told to.
      KEEP_PREDICTION_SLICES: "true",
      // The PACS scripts/test.sh starts (scripts/orthanc.sh), for the Studies page.
      ...(process.env.TEST_DICOMWEB_URL
        ? {
            DICOMWEB_URL: process.env.TEST_DICOMWEB_URL,
            DICOMWEB_USER: process.env.TEST_DICOMWEB_USER ?? "",
            DICOMWEB_PASSWORD: process.env.TEST_DICOMWEB_PASSWORD ?? "",
          }
        : {}),
    },
  },
});
