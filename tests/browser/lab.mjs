// The browser lab, driven as a student would drive it, in Debian's headless Chromium:
// pick a scenario, break it and see the problem at its line, run it, read the table (and
// check it against `lblab compare --format json`), open the charts and the report, and step
// through a trace. Screenshots go to results/browser/. Exit code 0 only if every check
// holds.
//
//   node tests/browser/lab.mjs [path/to/lblab]      (default: target/release/lblab)

import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const lblab = resolve(process.argv[2] || join(root, "target/release/lblab"));
const shots = join(root, "results/browser");
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "lblab-browser-"));

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}

// The lab, on any free port; its first line says where.
const server = spawn(lblab, ["serve", "--port", "0", "--out", join(work, "runs")], { cwd: work });
const url = await new Promise((res, rej) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
    if (m) res(m[0]);
  });
  server.on("exit", (c) => rej(new Error(`lblab serve exited with ${c}: ${out}`)));
  setTimeout(() => rej(new Error("lblab serve printed no address within 20 s")), 20000);
});
console.log(`lab at ${url}`);
let serverErr = "";
server.stderr.on("data", (d) => { serverErr += d; });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  const pageErrors = [];
  const foreign = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // (A refused run is answered 422, which Chromium logs as a failed load: expected.)
  page.on("console", (m) => { if (m.type() === "error" && !m.text().includes("status of 422")) pageErrors.push(m.text()); });
  const netlog = [];
  const t0 = Date.now();
  page.on("request", (r) => netlog.push(`${Date.now() - t0} req ${r.url()}`));
  page.on("response", (r) => netlog.push(`${Date.now() - t0} resp ${r.status()} ${r.url()}`));
  page.on("requestfinished", (r) => netlog.push(`${Date.now() - t0} fin ${r.url()}`));
  page.on("requestfailed", (r) => netlog.push(`${Date.now() - t0} failed ${r.url()} ${r.failure()?.errorText}`));
  page.on("request", (r) => { if (!r.url().startsWith(url) && !r.url().startsWith("blob:")) foreign.push(r.url()); });

  await page.goto(url + "#scenario=identical");
  await page.waitForFunction(() => document.querySelectorAll("#pick option").length > 10);
  check(await page.$eval("#pick", (s) => s.value) === "identical", "the scenario named in the address is picked");
  check((await page.textContent("#about .question")).includes("identical servers"), "its question is shown");
  check(!(await page.$eval("#lessonbox", (d) => d.open)), "the lesson stays folded until the student opens it");
  await page.waitForSelector("#status.ok");

  // A mistake, shown at its line.
  const text = await page.$eval("#src", (t) => t.value);
  const lines = text.split("\n");
  const rateLine = lines.findIndex((l) => /^rate\s*=/.test(l)) + 1;
  check(rateLine > 0, `the scenario has a rate line (line ${rateLine})`);
  await page.$eval("#src", (t, v) => { t.value = v; t.dispatchEvent(new Event("input")); },
    lines.map((l, i) => (i + 1 === rateLine ? 'rate = "banana"' : l)).join("\n"));
  await page.waitForSelector("#gutter .bad");
  check(await page.textContent("#gutter .bad") === String(rateLine), "the gutter marks the broken line");
  const msg = await page.textContent("#marks .msg");
  check(msg.includes("not a rate") && await page.$eval("#marks .msg", (m) => m.dataset.line) === String(rateLine),
    `the message sits at that line: "${msg}"`);
  check((await page.textContent("#problems")).includes(`line ${rateLine}: clients.rate`), "the problem list names line and key");
  await page.screenshot({ path: join(shots, "lab-error.png") });
  await page.click("#run");
  await page.waitForTimeout(300);
  check(await page.$("#summary") === null, "a broken scenario does not run");

  // Fixed again; run with 2 replications.
  await page.click("#reset");
  await page.waitForSelector("#status.ok");
  check(await page.$("#gutter .bad") === null, "Reset clears the marks");
  await page.fill("#reps", "2");
  await page.click("#run");
  await page.waitForSelector("#summary", { timeout: 120000 });
  const head = await page.$$eval("#summary thead th", (ths) => ths.map((t) => t.textContent));
  const variants = head.slice(2);
  const rows = await page.$$eval("#summary tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.firstChild ? td.firstChild.textContent : "")));
  const p99 = rows.find((r) => r[0] === "latency p99");
  check(p99 !== undefined, "the table has a latency p99 row");

  // The same numbers as the command line.
  const { stdout } = await promisify(execFile)(lblab, ["compare", "identical", "-r", "2", "--format", "json", "--out", join(work, "cli")], { cwd: work });
  const cli = JSON.parse(stdout);
  check(JSON.stringify(variants) === JSON.stringify(cli.algorithms.map((a) => a.algorithm)), `the variants are the CLI's: ${variants.join(", ")}`);
  const cliP99 = cli.algorithms.map((a) => a.metrics.find((m) => m.key === "latency_p99_ms").mean);
  const shown = p99.slice(2).map(Number);
  check(shown.every((v, i) => Math.abs(v - cliP99[i]) <= 0.0051 * Math.max(1, cliP99[i])),
    `p99 cells ${shown.join(", ")} match lblab compare --format json (${cliP99.map((v) => v.toFixed(3)).join(", ")})`);
  check(shown[0] === Math.min(...shown), "the lesson shows: round robin has the lowest p99");
  const shot = join(shots, "lab-table.png");
  await page.screenshot({ path: shot });
  check(statSync(shot).size > 40000, `the table screenshot has content (${statSync(shot).size} bytes)`);

  // Charts and report.
  await page.click('.tabs button[data-tab="charts"]');
  await page.waitForSelector("#tab-charts img");
  await page.waitForFunction(() => [...document.querySelectorAll("#tab-charts img")].every((i) => i.complete), null, { timeout: 60000 })
    .catch((e) => { console.log(netlog.join("\n")); throw e; });
  const widths = await page.$$eval("#tab-charts img", (is) => is.map((i) => i.naturalWidth));
  check(widths.length >= 3 && widths.every((w) => w > 100), `${widths.length} charts drawn`);
  await page.screenshot({ path: join(shots, "lab-charts.png") });
  await page.click('.tabs button[data-tab="report"]');
  const frame = await (await page.waitForSelector("#tab-report iframe")).contentFrame();
  await frame.waitForLoadState();
  check((await frame.textContent("body")).includes("identical"), "the report opens in the page");

  // The trace, step by step.
  await page.click('.tabs button[data-tab="trace"]');
  await page.fill("#tn", "12");
  await page.click("#tload");
  await page.waitForFunction(() => document.querySelectorAll("#log div").length > 0);
  const total = await page.evaluate(() => tr.lines.length);
  check(total >= 12 * 4, `the trace has ${total} steps`);
  check((await page.textContent("#tpos")) === `step 1 of ${total}`, "it starts at step 1");
  // Step to the first pick: the step text shows the balancer's view, and a dot sits at the
  // picked server; server labels show the in-flight counts of that moment.
  let i = 0;
  while (i < total && (await page.evaluate((k) => tr.lines[k].kind, i)) !== "start") {
    await page.keyboard.press("ArrowRight");
    i++;
  }
  const line = await page.evaluate((k) => tr.lines[k], i);
  check((await page.textContent("#step")).includes(line.event), "the step text is the trace line");
  const srv = await page.evaluate((name) => tr.servers.indexOf(name), line.server);
  const label = await page.textContent(`#srv${srv} text.num`);
  check(label.startsWith(String(line.servers[srv].in_flight)), `${line.server} shows ${label} in flight`);
  const dot = await page.$eval(`#dot${line.request}`, (d) => d.style.transform);
  const y = await page.$eval(`#srv${srv} rect.box`, (r) => +r.getAttribute("y"));
  const dy = +dot.match(/translate\([^,]+,\s*([\d.]+)px/)[1];
  check(Math.abs(dy - y) < 40, `request #${line.request}'s dot is beside ${line.server}`);
  // One step back is the pick: its wire is drawn, and the step text is the balancer's view.
  await page.keyboard.press("ArrowLeft");
  const pick = await page.evaluate((k) => tr.lines[k], i - 1);
  if (pick.kind === "pick") {
    const stroke = await page.$eval(`#wire${srv}`, (w) => w.getAttribute("stroke"));
    check(stroke !== "#dde3e9", `the pick of #${pick.request} lights the wire to ${pick.server}`);
  }
  await page.waitForTimeout(400);
  await page.screenshot({ path: join(shots, "lab-trace.png") });
  await page.click("#tplay");
  await page.waitForFunction(() => at > 3);
  await page.click("#tplay");
  await page.click("#tfirst");
  check((await page.textContent("#tpos")) === `step 1 of ${total}`, "play, pause and back to the first step");

  check(pageErrors.length === 0, `no script errors${pageErrors.length ? ": " + pageErrors.join("; ") : ""}`);
  check(foreign.length === 0, `nothing loaded from elsewhere${foreign.length ? ": " + foreign.join(", ") : ""}`);
} finally {
  if (serverErr) console.log("lblab serve said on stderr:\n" + serverErr);
  await browser.close();
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) failed` : "browser lab: every check passed");
process.exit(failures ? 1 : 0);
