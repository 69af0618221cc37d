import { test, expect, expectDrawn, waitForHydration } from "./fixtures";
import { dicomFile } from "./images";

const STUDY = "1.2.826.0.1.3680043.2.1125.55";

/** Eight instances of one series, picked in a shuffled order. */
function seriesFiles() {
  return [5, 2, 8, 1, 7, 3, 6, 4].map((number) =>
    dicomFile(800 + number, 128, `i${number}.dcm`, { study: STUDY, series: `${STUDY}.1`, number, z: number * 5 }),
  );
}

test("a series is classified with one verdict and scrolled with the wheel, the keys and the strip @phone", async ({
  page,
}) => {
  await page.goto("/series");
  await waitForHydration(page);
  await page.getByTestId("series-input").setInputFiles(seriesFiles());
  await expect(page.getByTestId("series-submit")).toHaveText("Classify 8 file(s)");
  await page.getByTestId("series-submit").click();
  const series = page.getByTestId("series");
  await expect(series).toHaveCount(1);
  await expect(series).toContainText("8 slices");
  await expect(series.getByTestId("series-verdict")).toHaveAttribute("data-class", /glioma|meningioma|notumor|pituitary/);
  await expectDrawn(page, "series-strip");
  const current = page.getByTestId("series-current");
  const position = async () => Number(await current.getAttribute("data-position"));
  await expect(page.getByTestId("series-slice")).toBeVisible();
  // The keyboard: Home, then down twice.
  const view = page.getByTestId("series-view");
  await view.focus();
  await page.keyboard.press("Home");
  await expect(current).toHaveAttribute("data-position", "1");
  await expect(current).toContainText("instance 1");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await expect(current).toHaveAttribute("data-position", "3");
  await expect(current).toContainText("instance 3");
  // The wheel moves one slice per notch.
  await view.hover();
  await page.mouse.wheel(0, 120);
  await expect.poll(position).toBe(4);
  // The slider, then a click near the strip's right end: the last slice.
  await page.getByTestId("series-slider").fill("6");
  await expect(current).toHaveAttribute("data-position", "6");
  const strip = page.getByTestId("series-strip").locator("canvas");
  const box = (await strip.boundingBox())!;
  await strip.click({ position: { x: box.width - 14, y: box.height / 2 } });
  await expect(current).toHaveAttribute("data-position", "8");
  // Window/level on the 16-bit values: a drag on the slice changes the window, which stays while
  // scrolling; the file's window comes back on demand.
  const windowText = page.getByTestId("series-window");
  await expect(windowText).toContainText("(the file's)");
  const fileWindow = (await windowText.textContent())!;
  const slice = page.getByTestId("series-slice");
  const meanGrey = () =>
    slice.evaluate((canvas: HTMLCanvasElement) => {
      const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
      let sum = 0;
      for (let i = 0; i < data.length; i += 4) sum += data[i];
      return sum / (data.length / 4);
    });
  await expect.poll(meanGrey).toBeGreaterThan(5);
  const before = await meanGrey();
  await slice.scrollIntoViewIfNeeded();
  const area = (await slice.boundingBox())!;
  await page.mouse.move(area.x + area.width / 2, area.y + area.height / 2);
  await page.mouse.down();
  await page.mouse.move(area.x + area.width / 2 - 60, area.y + area.height / 2 - 50, { steps: 5 });
  await page.mouse.up();
  await expect(windowText).not.toContainText("(the file's)");
  const narrowed = (await windowText.textContent())!;
  expect(narrowed).not.toEqual(fileWindow);
  await expect.poll(meanGrey).not.toBeCloseTo(before, 0);
  await view.focus();
  await page.keyboard.press("ArrowUp");
  await expect(current).toHaveAttribute("data-position", "7");
  await expect(windowText).toHaveText(narrowed);
  await page.getByTestId("series-window-reset").click();
  await expect(windowText).toContainText("(the file's)");
  // Where the model looked on this slice.
  await page.getByTestId("series-heatmap").click();
  await expect(current.getByTestId("heatmap")).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: test.info().outputPath("series.png"), fullPage: true });
});
