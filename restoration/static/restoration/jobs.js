/*
 * Curators' job panel on an item's page: shows the chosen task's parameters only, posts the
 * form in the background (the page's CSRF token in X-CSRFToken, Accept: application/json) and
 * follows each queued or running job by polling its API detail (GET /api/jobs/<id>/) until it
 * succeeds, fails or is cancelled, with its estimated time left. A queued or running job has a
 * "Cancel" button (curators): its small form posts to the page in the background too; a running
 * job then stops at its next tile. Without JavaScript the forms post as usual and the page
 * reloads with a message.
 */
(function () {
  "use strict";

  const POLL_MS = 1000;
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);
  const form = document.getElementById("queue-form");
  const list = document.getElementById("job-list");
  const message = document.getElementById("queue-message");

  const capitalise = (text) => text.charAt(0).toUpperCase() + text.slice(1);

  function resultId(job) {
    const result = job.result_version;
    return result && typeof result === "object" ? result.id : result;
  }

  function statusText(job) {
    const label = job.status_label || capitalise(job.status);
    if (job.status !== "running") return label;
    return `${label}, ${Math.round(job.progress * 100)}%${job.cancel_requested ? ", stopping" : ""}`;
  }

  /** Same wording as eta_text in restoration/delivery/pages/views.py. */
  function etaText(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.max(Math.round(seconds), 1);
    if (s < 60) return `about ${s} s left`;
    const minutes = Math.ceil(s / 60);
    if (minutes < 60) return `about ${minutes} min left`;
    return `about ${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
  }

  function csrfToken() {
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  /** The cancel form of a job (same markup as templates/restoration/_job.html). */
  function cancelForm(job) {
    const cancel = document.createElement("form");
    cancel.method = "post";
    cancel.className = "job-cancel-form";
    for (const [name, value] of [["csrfmiddlewaretoken", csrfToken()], ["cancel_job", String(job.id)]]) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      cancel.append(input);
    }
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "button job-cancel";
    button.textContent = `Cancel job ${job.id}`;
    cancel.append(button);
    return cancel;
  }

  /** The list entry of a job, made on first sight (same markup as templates/restoration/_job.html). */
  function entry(job) {
    let li = document.getElementById(`job-${job.id}`);
    if (li) return li;
    li = document.createElement("li");
    li.id = `job-${job.id}`;
    li.dataset.jobId = String(job.id);
    li.dataset.statusUrl = job.status_url || job.url;
    const title = document.createElement("span");
    title.className = "job-title";
    title.textContent = `Job ${job.id}: ${job.task_label || capitalise(job.task)}`;
    const progress = document.createElement("progress");
    progress.max = 1;
    progress.setAttribute("aria-label", `Progress of job ${job.id}`);
    const status = document.createElement("span");
    status.className = "job-status";
    const eta = document.createElement("span");
    eta.className = "job-eta";
    li.append(title, progress, status, eta);
    if (list && list.dataset.canCancel === "yes" && !FINAL.has(job.status)) li.append(cancelForm(job));
    if (list) list.prepend(li);
    const none = document.getElementById("no-jobs");
    if (none) none.remove();
    return li;
  }

  function render(li, job) {
    li.className = `job job-${job.status}`;
    li.dataset.status = job.status;
    const progress = li.querySelector("progress");
    progress.value = job.progress || 0;
    progress.textContent = `${Math.round((job.progress || 0) * 100)}%`;
    li.querySelector(".job-status").textContent = statusText(job);
    li.querySelector(".job-eta").textContent = job.status === "running" ? etaText(job.eta_seconds) : "";
    const cancel = li.querySelector(".job-cancel-form");
    if (cancel && (FINAL.has(job.status) || job.cancel_requested)) cancel.remove();
    const id = resultId(job);
    if (id && !li.querySelector(".job-result")) {
      const link = document.createElement("a");
      link.className = "job-result";
      link.href = `?compare=${id}#viewer`;
      link.textContent = `Compare with the result (version ${id})`;
      li.append(link);
    }
    if (job.error && !li.querySelector(".job-error")) {
      const error = document.createElement("span");
      error.className = "job-error";
      error.textContent = job.error;
      li.append(error);
    }
  }

  function follow(li) {
    const url = li.dataset.statusUrl;
    if (!url || li.dataset.following) return;
    li.dataset.following = "yes";
    const poll = () => {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((response) => {
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          return response.json();
        })
        .then((job) => {
          render(li, job);
          if (FINAL.has(job.status)) delete li.dataset.following;
          else window.setTimeout(poll, POLL_MS);
        })
        .catch((error) => {
          delete li.dataset.following;
          li.querySelector(".job-status").textContent = `Progress unavailable (${error.message}); reload the page.`;
        });
    };
    window.setTimeout(poll, POLL_MS);
  }

  if (list) {
    list.querySelectorAll("li.job").forEach((li) => {
      if (!FINAL.has(li.dataset.status)) follow(li);
    });
    list.addEventListener("submit", (event) => {
      const cancel = event.target.closest(".job-cancel-form");
      if (!cancel) return;
      event.preventDefault();
      const li = cancel.closest("li.job");
      cancel.querySelector("button").disabled = true;
      fetch(window.location.pathname, {
        method: "POST",
        body: new FormData(cancel),
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      })
        .then((response) => response.json())
        .then((body) => {
          if (message) message.textContent = body.detail || "";
          if (body.job) {
            render(li, body.job);
            if (!FINAL.has(body.job.status)) follow(li);
          }
        })
        .catch(() => {
          if (message) message.textContent = "The archive could not be reached; try again.";
          cancel.querySelector("button").disabled = false;
        });
    });
  }

  if (!form) return;

  const taskSelect = form.querySelector('select[name="task"]');
  function showTaskParameters() {
    form.querySelectorAll("fieldset.task-params").forEach((fieldset) => {
      fieldset.disabled = fieldset.dataset.task !== taskSelect.value;
    });
  }
  if (taskSelect) {
    taskSelect.addEventListener("change", showTaskParameters);
    showTaskParameters();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    const token = form.querySelector('input[name="csrfmiddlewaretoken"]');
    button.disabled = true;
    message.textContent = "Queueing…";
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
    })
      .then((response) => response.json().then((body) => ({ response, body }), () => ({ response, body: {} })))
      .then(({ response, body }) => {
        if (!response.ok || !body.job) {
          message.textContent = body.detail || `The job was not queued (HTTP ${response.status}).`;
          return;
        }
        message.textContent = body.detail;
        const li = entry(body.job);
        render(li, body.job);
        if (!FINAL.has(body.job.status)) follow(li);
      })
      .catch(() => {
        message.textContent = "The archive could not be reached; try again.";
      })
      .finally(() => {
        button.disabled = false;
      });
  });
})();
