/*
 * The item page's viewer, on OpenSeadragon 6.1.1 (static/vendor/openseadragon/, BSD-3-Clause):
 * the original against a derivative, with a before/after divider or side by side, zoom and pan
 * kept in register on both, and the damage mask of a restored version as an overlay.
 *
 * Each pane is its own OpenSeadragon viewer reading the version's IIIF Image 3 service
 * (/iiif/3/<version>/info.json; when the service does not answer, the access copy as one image).
 * OpenSeadragon's world is normalised by the image's width, so a derivative of another pixel
 * size (an upscale) has the same coordinates as its original: the panes are kept in register by
 * copying one viewer's zoom and centre to the others on every change ("zoom" and "pan" events).
 * Before/after: the derivative's pane lies over the original's, clipped from the left up to
 * the divider. Side by side: the panes are next to each other, the same size.
 * The damage mask is a third viewer inside the derivative's pane (so the divider clips it too),
 * tinted by CSS (multiply by a colour, then screen over the image: repainted pixels glow).
 *
 * Input: OpenSeadragon's (drag to pan, wheel, pinch, double click, and on the focused image
 * + / - / 0, the arrow keys and w a s d); the page's buttons; the divider is a role="slider"
 * element (pointer drag, arrow keys, Page Up/Down, Home, End; + and - zoom from it too).
 * ``window.itemViewer`` holds the viewers (for the browser tests and the console).
 */
(function () {
  "use strict";

  const stage = document.getElementById("viewer-stage");
  const configNode = document.getElementById("viewer-config");
  if (!stage || !configNode || typeof OpenSeadragon !== "function") return;

  const config = JSON.parse(configNode.textContent);
  const original = config.versions[String(config.original)];
  const divider = document.getElementById("viewer-divider");
  const zoomOutput = document.getElementById("viewer-zoom-level");
  const aiLabel = document.getElementById("viewer-ai-label");
  const compareSelect = document.getElementById("viewer-compare");
  const modes = document.getElementById("viewer-modes");
  const heading = document.getElementById("viewer-heading");
  const maskToggle = document.getElementById("viewer-mask-toggle");
  const maskBox = document.getElementById("viewer-mask");
  const beforePane = stage.querySelector(".viewer-before");
  const afterPane = stage.querySelector(".viewer-after");
  const afterCaption = document.getElementById("viewer-after-caption");
  const maskLayer = document.getElementById("viewer-osd-mask");

  const ZOOM_STEP = 1.5; // one button press or key
  const state = { divider: 50, mode: stage.dataset.mode, compare: config.compare, mask: false };
  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

  // --- Viewers ----------------------------------------------------------------------------------

  const common = {
    showNavigationControl: false, // the page's own buttons (no button images needed)
    drawer: "canvas", // plain 2D canvas: no WebGL needed, pixels readable
    visibilityRatio: 1, // the image cannot be dragged out of view ...
    constrainDuringPan: true,
    minZoomImageRatio: 1, // ... nor made smaller than it fits
    maxZoomPixelRatio: 4, // up to 4 screen pixels per image pixel
    zoomPerClick: ZOOM_STEP,
    zoomPerScroll: 1.25,
    animationTime: 0.5,
    springStiffness: 8,
    gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true, scrollToZoom: true, flickEnabled: false },
    gestureSettingsTouch: { clickToZoom: false, dblClickToZoom: true, pinchToZoom: true, flickEnabled: false },
    ajaxWithCredentials: true, // info.json of a non-public item, for a signed-in curator
    immediateRender: false,
  };

  function source(version) {
    return version.iiif;
  }

  function fallback(version) {
    return version.access ? { type: "image", url: version.access, buildPyramid: false } : null;
  }

  function makeViewer(element, options) {
    const viewer = OpenSeadragon(Object.assign({ element: element }, common, options || {}));
    viewer.addHandler("open-failed", (event) => {
      // The IIIF service did not answer (an image it cannot cut): the access copy stands in.
      const version = viewer.wantedVersion;
      const stand = version && fallback(version);
      if (stand && event.source !== stand && !viewer.fellBack) {
        viewer.fellBack = true;
        viewer.open(stand);
      } else {
        element.closest(".viewer-pane").dataset.iiif = "unavailable";
      }
    });
    viewer.addHandler("open", () => {
      const pane = element.closest(".viewer-pane");
      pane.dataset.iiif = viewer.fellBack ? "unavailable" : "available";
      pane.dataset.opened = String(viewer.wantedVersion ? viewer.wantedVersion.id : "");
      const reference = viewer === viewers.before ? firstOther(viewer) : viewers.before;
      if (reference && reference.world.getItemCount()) copyView(reference, [viewer]);
      showZoom();
    });
    // The viewer the visitor works with leads; the others copy its view on every frame.
    for (const name of ["canvas-press", "canvas-scroll", "canvas-key", "canvas-double-click", "canvas-pinch"]) {
      viewer.addHandler(name, () => { leader = viewer; });
    }
    for (const name of ["viewport-change", "animation", "animation-finish"]) {
      viewer.addHandler(name, () => {
        if (viewer === leader) copyView(viewer);
      });
    }
    // A new size (window, phone turned, side by side): the view is kept, no smaller than the
    // image fits, and the original's is given to the others. OpenSeadragon sets its own zoom after
    // "after-resize", so the constraint waits for the "viewport-change" of the same frame.
    viewer.addHandler("after-resize", () => { viewer.resized = true; });
    viewer.addHandler("viewport-change", () => {
      if (!viewer.resized) return;
      viewer.resized = false;
      viewer.viewport.applyConstraints(true);
      copyView(viewers.before);
    });
    return viewer;
  }

  function openOn(viewer, version) {
    viewer.wantedVersion = version;
    viewer.fellBack = false;
    viewer.open(source(version));
  }

  const viewers = { before: null, after: null, mask: null };
  window.itemViewer = viewers;

  // --- Register ---------------------------------------------------------------------------------

  let leader = null;

  function firstOther(viewer) {
    return Object.values(viewers).find((other) => other && other !== viewer && other.world.getItemCount()) || null;
  }

  // Give ``targets`` (default: every other open viewer) the current view of ``from``, at once.
  // The panes are the same size, and the world of each is its image's width, so equal bounds are
  // the same pixels of the original and of the derivative.
  function copyView(from, targets) {
    if (!from || !from.world.getItemCount()) return;
    const bounds = from.viewport.getBounds(true);
    for (const viewer of targets || Object.values(viewers)) {
      if (viewer && viewer !== from && viewer.world.getItemCount()) viewer.viewport.fitBounds(bounds, true);
    }
    showZoom();
  }

  function showZoom() {
    if (!viewers.before) return;
    const viewport = viewers.before.viewport;
    const home = viewport.getHomeZoom();
    const ratio = home > 0 ? viewport.getZoom(true) / home : 1;
    stage.dataset.zoom = String(Math.round(ratio * 100) / 100);
    if (zoomOutput) zoomOutput.textContent = "×" + ratio.toFixed(1);
  }

  // --- Zoom by buttons and keys -----------------------------------------------------------------

  function zoom(action) {
    leader = viewers.before;
    const viewport = leader.viewport;
    if (action === "in") viewport.zoomBy(ZOOM_STEP);
    else if (action === "out") viewport.zoomBy(1 / ZOOM_STEP);
    else viewport.goHome();
    viewport.applyConstraints();
  }

  document.querySelectorAll("button[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => zoom(button.dataset.zoom));
  });

  // --- Divider ----------------------------------------------------------------------------------

  function setDivider(percent) {
    if (!divider || !afterPane) return;
    state.divider = clamp(percent, 0, 100);
    const rounded = Math.round(state.divider);
    afterPane.style.clipPath = `inset(0 0 0 ${state.divider}%)`;
    divider.style.left = state.divider + "%";
    divider.setAttribute("aria-valuenow", String(rounded));
    divider.setAttribute("aria-valuetext", `${rounded}% original`);
  }

  function dividerTo(clientX) {
    const box = stage.getBoundingClientRect();
    setDivider(((clientX - box.left) / box.width) * 100);
  }

  if (divider) {
    divider.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      divider.focus({ preventScroll: true });
      divider.setPointerCapture(event.pointerId);
      dividerTo(event.clientX);
    });
    divider.addEventListener("pointermove", (event) => {
      if (divider.hasPointerCapture(event.pointerId)) dividerTo(event.clientX);
    });
    // The wheel over the divider zooms as it does over the image (at the divider's line).
    divider.addEventListener("wheel", (event) => {
      event.preventDefault();
      leader = viewers.before;
      const viewport = leader.viewport;
      const box = leader.container.getBoundingClientRect();
      const at = viewport.pointFromPixel(new OpenSeadragon.Point(event.clientX - box.left, event.clientY - box.top));
      viewport.zoomBy(event.deltaY < 0 ? common.zoomPerScroll : 1 / common.zoomPerScroll, at);
      viewport.applyConstraints();
    }, { passive: false });
    divider.addEventListener("keydown", (event) => {
      const steps = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 };
      if (event.key in steps) setDivider(Math.round(state.divider) + steps[event.key]);
      else if (event.key === "Home") setDivider(0);
      else if (event.key === "End") setDivider(100);
      else if (event.key === "+" || event.key === "=") zoom("in");
      else if (event.key === "-") zoom("out");
      else if (event.key === "0") zoom("fit");
      else return;
      event.preventDefault();
    });
  }

  // --- Modes, the compared version, the mask ----------------------------------------------------

  function setMode(mode) {
    state.mode = mode;
    stage.dataset.mode = mode;
    // Side by side: two panes of the original's proportions next to each other.
    const width = original.width * (mode === "side" ? 2 : 1);
    stage.style.aspectRatio = `${width} / ${original.height}`;
    if (mode === "slider") setDivider(state.divider);
  }

  function setMask(on) {
    const version = state.compare ? config.versions[String(state.compare)] : null;
    const mask = version && version.mask;
    state.mask = Boolean(on && mask);
    if (maskBox) maskBox.checked = state.mask;
    stage.dataset.mask = state.mask ? "on" : "off";
    if (!maskLayer) return;
    maskLayer.classList.toggle("is-on", state.mask);
    if (!state.mask) return;
    if (!viewers.mask) {
      viewers.mask = makeViewer(maskLayer, { mouseNavEnabled: false, keyboardNavEnabled: false });
      viewers.mask.canvas.tabIndex = -1; // an overlay, not a third image to tab to
    }
    if (viewers.mask.wantedVersion !== mask) {
      viewers.mask.wantedVersion = mask;
      viewers.mask.fellBack = true; // a mask has no access copy to fall back on
      viewers.mask.open(mask.iiif);
    }
  }

  function setCompare(id) {
    const version = id ? config.versions[String(id)] : null;
    state.compare = version ? version.id : null;
    if (modes) modes.hidden = !version;
    if (aiLabel) {
      aiLabel.hidden = !version;
      aiLabel.querySelector("strong").textContent = version ? version.label : "";
    }
    if (maskToggle) maskToggle.hidden = !(version && version.mask);
    if (!version) {
      stage.dataset.mode = "single";
      stage.style.aspectRatio = `${original.width} / ${original.height}`;
      if (heading) heading.textContent = "Image";
      setMask(false);
      return;
    }
    const kind = version.kind.toLowerCase();
    if (heading) heading.textContent = `Original and ${kind} version`;
    if (afterCaption) afterCaption.textContent = `${version.kind} by a model`;
    if (divider) divider.setAttribute("aria-label", `Divider between the original (left) and the ${kind} version (right)`);
    afterPane.dataset.version = String(version.id);
    if (!viewers.after) viewers.after = makeViewer(document.getElementById("viewer-osd-after"));
    if (viewers.after.wantedVersion !== version) openOn(viewers.after, version);
    viewers.after.canvas.setAttribute("aria-label", version.alt);
    setMode(state.mode === "single" ? "slider" : state.mode);
    setMask(state.mask);
  }

  document.querySelectorAll("input[name=viewer-mode]").forEach((input) => {
    input.addEventListener("change", () => {
      if (input.checked) setMode(input.value);
    });
  });

  if (compareSelect) {
    compareSelect.addEventListener("change", () => {
      setCompare(compareSelect.value ? Number(compareSelect.value) : null);
      const url = new URL(window.location.href);
      if (state.compare) url.searchParams.set("compare", String(state.compare));
      else url.searchParams.delete("compare");
      window.history.replaceState(null, "", url);
    });
  }

  if (maskBox) maskBox.addEventListener("change", () => setMask(maskBox.checked));

  // --- Start ------------------------------------------------------------------------------------

  viewers.before = makeViewer(document.getElementById("viewer-osd-before"));
  openOn(viewers.before, original);
  viewers.before.canvas.setAttribute("aria-label", original.alt);
  if (state.mode === "single") state.mode = "slider"; // the layout once a derivative is chosen
  setCompare(config.compare);
  if (!config.compare) stage.dataset.mode = "single";
  setDivider(state.divider);
})();
