/*
 * The item page's viewer: the original against a derivative, with a before/after divider or
 * side by side, and zoom and pan kept in register on both images.
 *
 * Each pane draws into a canvas: first the version's access copy (always there), then, when
 * the IIIF image service answers for the version and the access copy is not sharp enough at
 * the current zoom, tiles cut by that service
 * (/iiif/3/<version>/<x>,<y>,<w>,<h>/<w>,/0/default.jpg). Without the service the access copy
 * alone is shown, enlarged. The view is kept in the original's normalised coordinates (zoom,
 * centre u, v in [0, 1]), so a derivative of another pixel size (an upscale) stays in register.
 *
 * Input: the divider is a role="slider" element (pointer drag, arrow keys, Page Up/Down, Home,
 * End); the image pans by dragging when zoomed, zooms by the wheel, a double click, pinching,
 * the buttons, or + / - / 0 and the arrow keys when the image has the focus.
 */
(function () {
  "use strict";

  const stage = document.getElementById("viewer-stage");
  const configNode = document.getElementById("viewer-config");
  if (!stage || !configNode) return;

  const config = JSON.parse(configNode.textContent);
  const original = config.versions[String(config.original)];
  const divider = document.getElementById("viewer-divider");
  const zoomOutput = document.getElementById("viewer-zoom-level");
  const aiLabel = document.getElementById("viewer-ai-label");
  const compareSelect = document.getElementById("viewer-compare");
  const heading = document.getElementById("viewer-heading");

  const TILE_CACHE = 400; // tiles kept per pane
  const MAX_TILE_ERRORS = 3; // after that many failed tiles a pane stops asking the service
  const state = { zoom: 1, cu: 0.5, cv: 0.5, divider: 50, mode: stage.dataset.mode };

  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

  // --- Panes ------------------------------------------------------------------------------------

  class Layer {
    constructor(pane) {
      this.pane = pane;
      this.canvas = document.createElement("canvas");
      this.canvas.setAttribute("role", "img");
      pane.insertBefore(this.canvas, pane.firstChild);
      this.base = pane.querySelector("img.viewer-base");
      if (!this.base) {
        this.base = document.createElement("img");
        this.base.className = "viewer-base";
        pane.insertBefore(this.base, this.canvas.nextSibling);
      }
      this.base.addEventListener("load", requestDraw);
      this.setVersion(config.versions[pane.dataset.version]);
    }

    setVersion(version) {
      this.version = version;
      this.info = null;
      this.tiles = new Map();
      this.tileErrors = 0;
      this.pane.dataset.version = String(version.id);
      this.pane.dataset.iiif = "pending";
      this.pane.dataset.tiles = "0";
      this.canvas.setAttribute("aria-label", version.alt);
      if (version.access && this.base.getAttribute("src") !== version.access) this.base.src = version.access;
      this.base.alt = version.alt;
      this.loadInfo(version);
      requestDraw();
    }

    loadInfo(version) {
      fetch(version.iiif + "/info.json", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : null))
        .then((info) => {
          if (this.version !== version) return;
          this.info = info && info.width && info.height ? serviceOf(info, version) : null;
          this.pane.dataset.iiif = this.info ? "available" : "unavailable";
          requestDraw();
        })
        .catch(() => {
          if (this.version === version) this.pane.dataset.iiif = "unavailable";
        });
    }

    tile(url) {
      let image = this.tiles.get(url);
      if (image) {
        this.tiles.delete(url); // most recently used last
        this.tiles.set(url, image);
        return image;
      }
      image = new Image();
      image.decoding = "async";
      image.addEventListener("load", () => {
        this.pane.dataset.tiles = String(Number(this.pane.dataset.tiles) + 1);
        requestDraw();
      });
      image.addEventListener("error", () => {
        this.tileErrors += 1;
        if (this.tileErrors >= MAX_TILE_ERRORS && this.info) {
          this.info = null;
          this.pane.dataset.iiif = "failed";
          requestDraw();
        }
      });
      image.src = url;
      this.tiles.set(url, image);
      while (this.tiles.size > TILE_CACHE) this.tiles.delete(this.tiles.keys().next().value);
      return image;
    }
  }

  /** What the viewer needs of an IIIF info.json: base URL, size, tile size, scale factors. */
  function serviceOf(info, version) {
    let base = version.iiif;
    const id = info.id || info["@id"];
    if (id) {
      const url = new URL(id, window.location.href);
      if (url.origin === window.location.origin) base = url.pathname.replace(/\/$/, "");
    }
    const tiles = (info.tiles && info.tiles[0]) || {};
    const tileWidth = tiles.width || 512;
    const factors = (tiles.scaleFactors || [1, 2, 4, 8, 16, 32, 64]).slice().sort((a, b) => a - b);
    return {
      base: base,
      width: info.width,
      height: info.height,
      tileWidth: tileWidth,
      tileHeight: tiles.height || tileWidth,
      scaleFactors: factors,
      maxWidth: info.maxWidth || Infinity,
    };
  }

  // --- Geometry: CSS pixels of a pane against the original's pixels ------------------------------

  function geometry(layer, zoom) {
    const cw = layer.pane.clientWidth;
    const ch = layer.pane.clientHeight;
    const W = original.width;
    const H = original.height;
    const fit = Math.min(cw / W, ch / H) || 1;
    const s = fit * (zoom === undefined ? state.zoom : zoom); // CSS px per original px
    return { cw: cw, ch: ch, W: W, H: H, fit: fit, s: s, ox: cw / 2 - state.cu * W * s, oy: ch / 2 - state.cv * H * s };
  }

  function maxZoom() {
    const g = geometry(layers[0], 1);
    return Math.max(2, 4 / g.fit); // up to 4 screen pixels per pixel of the original
  }

  function clampCentre() {
    const g = geometry(layers[0]);
    const halfU = g.cw / (2 * g.W * g.s);
    const halfV = g.ch / (2 * g.H * g.s);
    state.cu = halfU >= 0.5 ? 0.5 : clamp(state.cu, halfU, 1 - halfU);
    state.cv = halfV >= 0.5 ? 0.5 : clamp(state.cv, halfV, 1 - halfV);
  }

  // --- Drawing ---------------------------------------------------------------------------------

  let frame = 0;
  function requestDraw() {
    if (!frame) frame = window.requestAnimationFrame(drawAll);
  }

  function drawAll() {
    frame = 0;
    if (!layers.length) return;
    layers.forEach(draw);
    zoomOutput && (zoomOutput.textContent = "×" + state.zoom.toFixed(1));
    stage.dataset.zoom = state.zoom.toFixed(3);
    stage.classList.toggle("is-zoomed", state.zoom > 1.001);
  }

  function draw(layer) {
    const g = geometry(layer);
    const dpr = window.devicePixelRatio || 1;
    const canvas = layer.canvas;
    const width = Math.max(1, Math.round(g.cw * dpr));
    const height = Math.max(1, Math.round(g.ch * dpr));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.cw, g.ch);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";

    const image = layer.base;
    const baseReady = image.complete && image.naturalWidth > 0;
    if (baseReady) drawVisible(ctx, g, image, image.naturalWidth, image.naturalHeight);
    if (layer.info) drawTiles(layer, ctx, g, dpr, baseReady ? image.naturalWidth : 0);
  }

  /** Draws the visible part of a whole image (source size sw x sh) covering the original's frame. */
  function drawVisible(ctx, g, image, sw, sh) {
    const x0 = Math.max(0, -g.ox), y0 = Math.max(0, -g.oy);
    const x1 = Math.min(g.cw, g.ox + g.W * g.s), y1 = Math.min(g.ch, g.oy + g.H * g.s);
    if (x1 <= x0 || y1 <= y0) return;
    const kx = sw / (g.W * g.s), ky = sh / (g.H * g.s); // source px per CSS px
    ctx.drawImage(image, (x0 - g.ox) * kx, (y0 - g.oy) * ky, (x1 - x0) * kx, (y1 - y0) * ky, x0, y0, x1 - x0, y1 - y0);
  }

  function drawTiles(layer, ctx, g, dpr, baseWidth) {
    const info = layer.info;
    const kx = info.width / g.W, ky = info.height / g.H; // layer px per original px
    const devicePerPixel = (g.s * dpr) / kx; // device px per layer px
    // Tiles only where they add detail: the access copy is smaller than the image, and too
    // small for the current zoom.
    if (baseWidth >= info.width || devicePerPixel <= (baseWidth / info.width) * 1.01) return;
    let factor = info.scaleFactors[0];
    for (const f of info.scaleFactors) if (f <= 1 / devicePerPixel) factor = f;
    const tw = info.tileWidth * factor, th = info.tileHeight * factor; // layer px per tile
    const x0 = Math.max(0, (-g.ox / g.s) * kx), x1 = Math.min(info.width, ((g.cw - g.ox) / g.s) * kx);
    const y0 = Math.max(0, (-g.oy / g.s) * ky), y1 = Math.min(info.height, ((g.ch - g.oy) / g.s) * ky);
    for (let ty = Math.floor(y0 / th); ty * th < y1; ty++) {
      for (let tx = Math.floor(x0 / tw); tx * tw < x1; tx++) {
        const rx = tx * tw, ry = ty * th;
        const rw = Math.min(tw, info.width - rx), rh = Math.min(th, info.height - ry);
        const size = Math.ceil(rw / factor);
        if (size > info.maxWidth) continue;
        const tile = layer.tile(`${info.base}/${rx},${ry},${rw},${rh}/${size},/0/default.jpg`);
        if (!(tile.complete && tile.naturalWidth)) continue;
        // Snap to device pixels, one pixel generous, so neighbouring tiles leave no hairline.
        const left = Math.floor((g.ox + (rx / kx) * g.s) * dpr) / dpr;
        const top = Math.floor((g.oy + (ry / ky) * g.s) * dpr) / dpr;
        const right = Math.ceil((g.ox + ((rx + rw) / kx) * g.s) * dpr) / dpr;
        const bottom = Math.ceil((g.oy + ((ry + rh) / ky) * g.s) * dpr) / dpr;
        ctx.drawImage(tile, left, top, right - left, bottom - top);
      }
    }
  }

  // --- Zoom and pan ------------------------------------------------------------------------------

  function layerAt(clientX, clientY) {
    for (const layer of layers) {
      const r = layer.pane.getBoundingClientRect();
      if (state.mode !== "side" || (clientX >= r.left && clientX <= r.right && clientY >= r.top && clientY <= r.bottom)) {
        return layer;
      }
    }
    return layers[0];
  }

  /** Zooms to ``zoom`` keeping the point (px, py) of ``layer``'s pane where it is. */
  function zoomAt(zoom, layer, px, py) {
    zoom = clamp(zoom, 1, maxZoom());
    if (Math.abs(zoom - state.zoom) < 1e-6) return false;
    const g = geometry(layer);
    const u = (px - g.ox) / (g.W * g.s), v = (py - g.oy) / (g.H * g.s);
    const s = geometry(layer, zoom).s;
    state.zoom = zoom;
    state.cu = (g.cw / 2 - (px - u * g.W * s)) / (g.W * s);
    state.cv = (g.ch / 2 - (py - v * g.H * s)) / (g.H * s);
    clampCentre();
    requestDraw();
    return true;
  }

  function zoomCentre(factor) {
    const layer = layers[0];
    return zoomAt(state.zoom * factor, layer, layer.pane.clientWidth / 2, layer.pane.clientHeight / 2);
  }

  function fit() {
    state.zoom = 1;
    state.cu = state.cv = 0.5;
    requestDraw();
  }

  function panBy(dx, dy, layer) {
    const g = geometry(layer || layers[0]);
    state.cu -= dx / (g.W * g.s);
    state.cv -= dy / (g.H * g.s);
    clampCentre();
    requestDraw();
  }

  // --- Divider -----------------------------------------------------------------------------------

  function setDivider(percent) {
    if (!divider || !after) return;
    state.divider = clamp(percent, 0, 100);
    const rounded = Math.round(state.divider);
    after.pane.style.clipPath = `inset(0 0 0 ${state.divider}%)`;
    divider.style.left = state.divider + "%";
    divider.setAttribute("aria-valuenow", String(rounded));
    divider.setAttribute(
      "aria-valuetext",
      `${rounded}% original, ${100 - rounded}% ${after.version.kind.toLowerCase()}`
    );
  }

  function dividerTo(clientX) {
    const rect = stage.getBoundingClientRect();
    setDivider(((clientX - rect.left) / rect.width) * 100);
  }

  // --- Pointer, wheel and keyboard ---------------------------------------------------------------

  const pointers = new Map();
  let gesture = null;

  function spread() {
    const [a, b] = Array.from(pointers.values());
    return { distance: Math.hypot(a.x - b.x, a.y - b.y), x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  }

  function panePoint(layer, clientX, clientY) {
    const r = layer.pane.getBoundingClientRect();
    return [clientX - r.left, clientY - r.top];
  }

  stage.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    try {
      stage.setPointerCapture(event.pointerId);
    } catch (e) {
      /* a synthetic pointer cannot be captured: nothing to do */
    }
    if (pointers.size === 2) {
      const p = spread();
      gesture = { type: "pinch", distance: p.distance || 1, zoom: state.zoom };
      return;
    }
    const onDivider = divider && event.target.closest(".viewer-divider");
    if (onDivider || (state.mode === "slider" && state.zoom <= 1.001 && after)) {
      gesture = { type: "divider" };
      if (onDivider) divider.focus({ preventScroll: true });
      if (event.pointerType === "mouse" || onDivider) dividerTo(event.clientX);
    } else {
      gesture = { type: "pan", x: event.clientX, y: event.clientY, layer: layerAt(event.clientX, event.clientY) };
      stage.classList.add("is-panning");
      stage.focus({ preventScroll: true });
    }
    event.preventDefault();
  });

  stage.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId) || !gesture) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (gesture.type === "pinch" && pointers.size >= 2) {
      const p = spread();
      const layer = layerAt(p.x, p.y);
      const [px, py] = panePoint(layer, p.x, p.y);
      zoomAt((gesture.zoom * p.distance) / gesture.distance, layer, px, py);
    } else if (gesture.type === "divider") {
      dividerTo(event.clientX);
    } else if (gesture.type === "pan") {
      panBy(event.clientX - gesture.x, event.clientY - gesture.y, gesture.layer);
      gesture.x = event.clientX;
      gesture.y = event.clientY;
    }
  });

  function release(event) {
    pointers.delete(event.pointerId);
    if (pointers.size === 0) {
      gesture = null;
      stage.classList.remove("is-panning");
    }
  }
  stage.addEventListener("pointerup", release);
  stage.addEventListener("pointercancel", release);

  stage.addEventListener(
    "wheel",
    (event) => {
      const layer = layerAt(event.clientX, event.clientY);
      const [px, py] = panePoint(layer, event.clientX, event.clientY);
      const unit = event.deltaMode === 1 ? 40 : event.deltaMode === 2 ? 400 : 1;
      // Only a wheel that changes the zoom is taken: at "fit", scrolling down still scrolls the page.
      if (zoomAt(state.zoom * Math.exp(-event.deltaY * unit * 0.002), layer, px, py)) event.preventDefault();
    },
    { passive: false }
  );

  stage.addEventListener("dblclick", (event) => {
    const layer = layerAt(event.clientX, event.clientY);
    const [px, py] = panePoint(layer, event.clientX, event.clientY);
    zoomAt(state.zoom * 2, layer, px, py);
  });

  if (divider) {
    divider.addEventListener("keydown", (event) => {
      const step = event.shiftKey ? 10 : 1;
      let value = state.divider;
      switch (event.key) {
        case "ArrowLeft":
        case "ArrowDown":
          value -= step;
          break;
        case "ArrowRight":
        case "ArrowUp":
          value += step;
          break;
        case "PageDown":
          value -= 10;
          break;
        case "PageUp":
          value += 10;
          break;
        case "Home":
          value = 0;
          break;
        case "End":
          value = 100;
          break;
        default:
          return;
      }
      event.preventDefault();
      event.stopPropagation();
      setDivider(Math.round(value));
    });
  }

  // Zoom keys work on the image and on the divider; arrow keys pan only from the image (on the
  // divider they move it).
  stage.addEventListener("keydown", (event) => {
    if (event.target !== stage && !(event.target === divider && ["+", "=", "-", "0"].includes(event.key))) return;
    const g = geometry(layers[0]);
    const keys = {
      "+": () => zoomCentre(1.5),
      "=": () => zoomCentre(1.5),
      "-": () => zoomCentre(1 / 1.5),
      "0": fit,
      ArrowLeft: () => panBy(g.cw * 0.1, 0),
      ArrowRight: () => panBy(-g.cw * 0.1, 0),
      ArrowUp: () => panBy(0, g.ch * 0.1),
      ArrowDown: () => panBy(0, -g.ch * 0.1),
    };
    const action = keys[event.key];
    if (!action || (event.key.startsWith("Arrow") && state.zoom <= 1.001)) return;
    event.preventDefault();
    action();
  });

  document.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const how = button.dataset.zoom;
      if (how === "in") zoomCentre(1.5);
      else if (how === "out") zoomCentre(1 / 1.5);
      else fit();
    });
  });

  // --- Layout and the choice of derivative ---------------------------------------------------------

  function setMode(mode) {
    state.mode = mode;
    stage.dataset.mode = mode;
    stage.style.aspectRatio = mode === "side" ? `${2 * original.width} / ${original.height}` : `${original.width} / ${original.height}`;
    if (mode === "slider") setDivider(state.divider);
    clampCentre();
    requestDraw();
  }

  document.querySelectorAll('input[name="viewer-mode"]').forEach((radio) => {
    radio.addEventListener("change", () => radio.checked && setMode(radio.value));
  });

  if (compareSelect) {
    compareSelect.addEventListener("change", () => {
      const version = config.versions[compareSelect.value];
      if (!version || !after) return;
      after.setVersion(version);
      const kind = version.kind.toLowerCase();
      if (aiLabel) aiLabel.querySelector("strong").textContent = version.label;
      const caption = after.pane.querySelector(".pane-caption");
      if (caption) caption.textContent = `${version.kind} by a model`;
      if (heading) heading.textContent = `Original and ${kind} version`;
      if (divider) {
        divider.setAttribute("aria-label", `Divider between the original (left) and the ${kind} version (right)`);
        setDivider(state.divider);
      }
      const url = new URL(window.location.href);
      url.searchParams.set("compare", String(version.id));
      window.history.replaceState(null, "", url);
    });
  }

  // --- Start ---------------------------------------------------------------------------------------

  const layers = [];
  const before = new Layer(stage.querySelector(".viewer-before"));
  layers.push(before);
  const afterPane = stage.querySelector(".viewer-after");
  const after = afterPane ? new Layer(afterPane) : null;
  if (after) layers.push(after);
  stage.classList.add("is-ready");
  if (window.ResizeObserver) {
    new ResizeObserver(() => {
      clampCentre();
      requestDraw();
    }).observe(stage);
  } else {
    window.addEventListener("resize", requestDraw);
  }
  setDivider(state.divider);
  requestDraw();
})();
