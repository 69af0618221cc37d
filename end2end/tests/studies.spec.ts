import { test, expect, expectDrawn, waitForHydration } from "./fixtures";
import { dicomFile, DICOM_PATIENT } from "./images";

// The PACS is the Orthanc scripts/test.sh starts (scripts/orthanc.sh); the server under test is
// pointed at it through DICOMWEB_URL (playwright.config.ts).
function orthanc() {
  const url = process.env.TEST_ORTHANC_URL;
  const dicomweb = process.env.TEST_DICOMWEB_URL;
  if (!url || !dicomweb) {
    throw new Error("TEST_ORTHANC_URL is unset: source scripts/orthanc.sh && start_test_orthanc first");
  }
  const auth = "Basic " + Buffer.from(`${process.env.TEST_DICOMWEB_USER}:${process.env.TEST_DICOMWEB_PASSWORD}`).toString("base64");
  return { url, dicomweb, auth };
}

/** A fresh study of six identified MR instances in the PACS; its study and series UIDs. */
async function fillPacs() {
  const pacs = orthanc();
  const study = `1.2.826.0.1.3680043.8.498.77.${Date.now()}`;
  const series = `${study}.1`;
  for (const number of [4, 1, 6, 2, 5, 3]) {
    const file = dicomFile(900 + number, 128, `${number}.dcm`, { study, series, number, z: number * 5 });
    const response = await fetch(`${pacs.url}/instances`, {
      method: "POST",
      headers: { authorization: pacs.auth },
      body: file.buffer,
    });
    expect(response.ok, `Orthanc took instance ${number}`).toBe(true);
  }
  return { study, series };
}

test("a study from the PACS is opened, its series classified, scrolled and sent back to the PACS @phone", async ({
  page,
}) => {
  const { study } = await fillPacs();
  await page.goto("/studies");
  await waitForHydration(page);
  // A radiologist looks the patient up: by ID (the PACS holds other patients' studies too).
  await page.getByTestId("studies-patient-id").fill(DICOM_PATIENT.id);
  await page.getByTestId("studies-search").click();
  await expect(page.getByTestId("study-row").first()).toContainText(DICOM_PATIENT.id);
  await expect(page.getByTestId("study-row").filter({ hasNotText: DICOM_PATIENT.id })).toHaveCount(0);
  const row = page.locator(`[data-testid="study-row"][data-uid="${study}"]`);
  await expect(row).toBeVisible();
  // The patient's name and ID are shown to this signed-in user (and never stored: server/tests/pacs.rs).
  await expect(row).toContainText(DICOM_PATIENT.name.replace("^", " "));
  await expect(row).toContainText(DICOM_PATIENT.id);
  await row.getByTestId("study-open").click();
  const line = page.getByTestId("pacs-series");
  await expect(line).toHaveCount(1);
  await expect(line).toContainText("6 images");
  await line.getByTestId("pacs-classify").click();

  const series = page.getByTestId("series");
  await expect(series).toContainText("6 slices");
  await expect(series.getByTestId("series-verdict")).toHaveAttribute("data-class", /glioma|meningioma|notumor|pituitary/);
  await expect(page.getByTestId("pacs-timing")).toContainText("Fetched from the PACS");
  await expectDrawn(page, "series-strip");
  const current = page.getByTestId("series-current");
  const view = page.getByTestId("series-view");
  await view.focus();
  await page.keyboard.press("Home");
  await expect(current).toContainText("instance 1");
  await page.keyboard.press("ArrowDown");
  await expect(current).toContainText("instance 2");
  await view.hover();
  await page.mouse.wheel(0, 120);
  await expect(current).toHaveAttribute("data-position", "3");
  // The heatmap of this slice, fetched again from the PACS by the server.
  await page.getByTestId("series-heatmap").click();
  await expect(current.getByTestId("heatmap")).toBeVisible();

  // Back to the PACS: the result becomes a series of the same study there.
  await line.getByTestId("pacs-store").click();
  await expect(page.getByTestId("pacs-stored")).toContainText("Stored 6 image(s) in the PACS");
  const pacs = orthanc();
  const found = await fetch(`${pacs.dicomweb}/studies/${study}/series`, {
    headers: { authorization: pacs.auth, accept: "application/dicom+json" },
  }).then((response) => response.json());
  const modalities = found.map((s: Record<string, { Value: string[] }>) => s["00080060"].Value[0]).sort();
  expect(modalities).toEqual(["MR", "OT"]);
  // The study list now says so.
  await page.getByTestId("studies-refresh").click();
  await expect(row.getByTestId("verdict-badge")).toContainText("in PACS");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: test.info().outputPath("studies.png"), fullPage: true });
});
