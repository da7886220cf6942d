// rill's web page: start a stream, read it as server-sent events with fetch
// (so the API key can travel in a header), apply structured patches to a
// card, and reconnect with Last-Event-ID when the connection drops.
"use strict";

const $ = (id) => document.getElementById(id);
const FINAL = new Set(["done", "error", "cancelled"]);

let schemas = {};
let run = null; // the stream being shown

function authHeaders() {
  const key = $("key").value || sessionStorage.getItem("rill-key") || "";
  if (key) sessionStorage.setItem("rill-key", key);
  return key ? { authorization: "Bearer " + key } : {};
}

function setStatus(text, state) {
  $("status").textContent = text;
  if (state) document.body.dataset.state = state;
}

async function loadSchemas() {
  const response = await fetch("v1/schemas", { headers: authHeaders() });
  if (response.status === 401) {
    $("key-row").hidden = false;
    setStatus("Enter the server API key.");
    return;
  }
  const body = await response.json();
  schemas = body.schemas || {};
  $("key-row").hidden = !body.auth;
  $("schema").replaceChildren(new Option("text", ""));
  setStatus("Ready.");
  for (const name of Object.keys(schemas)) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    $("schema").append(option);
  }
}

// -- the card -------------------------------------------------------------

function buildCard(name) {
  const schema = schemas[name];
  const fields = $("fields");
  fields.replaceChildren();
  $("card-title").textContent = name;
  const names = Object.keys((schema && schema.properties) || {});
  for (const field of names) {
    const row = document.createElement("div");
    row.className = "field";
    row.dataset.field = field;
    row.dataset.state = "pending";
    const dt = document.createElement("dt");
    dt.textContent = field;
    const dd = document.createElement("dd");
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = "…";
    dd.append(value);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.append(document.createElement("span"));
    row.append(dt, dd, bar);
    fields.append(row);
  }
  $("card").hidden = names.length === 0;
  return { schema, names };
}

function decodePointer(pointer) {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

// The patches of rill.structured: "add" (containers arrive empty, growing
// strings as ""), "append" (extend a string) and "close" (a value is complete).
function applyPatch(doc, patch) {
  const tokens = decodePointer(patch.path);
  if (patch.op === "close") return doc;
  if (tokens.length === 0) return patch.op === "add" ? clone(patch.value) : doc + patch.value;
  let parent = doc;
  for (const token of tokens.slice(0, -1)) parent = parent[Array.isArray(parent) ? Number(token) : token];
  const last = Array.isArray(parent) ? Number(tokens[tokens.length - 1]) : tokens[tokens.length - 1];
  if (patch.op === "add") {
    if (Array.isArray(parent)) parent.splice(last, 0, clone(patch.value));
    else parent[last] = clone(patch.value);
  } else {
    parent[last] += patch.value;
  }
  return doc;
}

function clone(value) {
  return value !== null && typeof value === "object" ? JSON.parse(JSON.stringify(value)) : value;
}

function show(value) {
  if (value === undefined) return "…";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(show).join(", ");
  return JSON.stringify(value);
}

function renderCard() {
  const { names, schema } = run.card;
  let done = 0;
  for (const field of names) {
    const row = document.querySelector(`[data-field="${CSS.escape(field)}"]`);
    const value = run.doc && typeof run.doc === "object" ? run.doc[field] : undefined;
    const closed = run.closed.has("/" + field);
    const state = closed ? "done" : value === undefined ? "pending" : "streaming";
    row.dataset.state = state;
    row.querySelector(".value").textContent = show(value);
    let width = 0;
    if (state === "done") width = 100;
    else if (state === "streaming") {
      const max = schema.properties[field].maxLength || schema.properties[field].maxItems;
      const size = value && value.length !== undefined ? value.length : 0;
      width = max ? Math.min(95, (100 * size) / max) : 50;
    }
    row.querySelector(".bar span").style.width = width + "%";
    if (closed) done += 1;
  }
  $("overall").style.width = names.length ? (100 * done) / names.length + "%" : "0";
}

// -- events ---------------------------------------------------------------

function handle(kind, data) {
  const value = JSON.parse(data);
  if (kind === "chunk") {
    run.text += value.text;
    $("answer").textContent = run.text;
  } else if (kind === "patch") {
    for (const patch of value) {
      if (patch.op === "close") run.closed.add(patch.path);
      else run.doc = applyPatch(run.doc, patch);
    }
    renderCard();
  } else if (kind === "usage") {
    $("usage").textContent = `${value.prompt_tokens} prompt + ${value.completion_tokens} completion tokens`;
  } else if (FINAL.has(kind)) {
    run.final = true;
    const text = kind === "done" ? "Done." : kind === "cancelled" ? "Cancelled." : `Error: ${value.message}`;
    setStatus(text, kind);
    $("cancel").disabled = true;
  }
}

// A server-sent events parser (WHATWG HTML, "Server-sent events"): fields
// per line, an event per blank line; an id is kept even for an event with
// no data, which is what lets a reconnect name its position.
async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { id: null, kind: "message", data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (event.id !== null) run.lastId = event.id;
        if (event.data.length) handle(event.kind, event.data.join("\n"));
        event = { id: null, kind: "message", data: [] };
        if (run.final) return;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let field = colon < 0 ? "" : line.slice(colon + 1);
      if (field.startsWith(" ")) field = field.slice(1);
      if (name === "id") event.id = field;
      else if (name === "event") event.kind = field;
      else if (name === "data") event.data.push(field);
      else if (name === "retry" && /^\d+$/.test(field)) run.retry = Number(field);
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow(current) {
  let attempt = 0;
  while (!current.final && run === current) {
    const headers = authHeaders();
    if (current.lastId) headers["last-event-id"] = current.lastId;
    try {
      const response = await fetch("v1/streams/" + current.id, { headers, signal: current.abort.signal });
      if (response.status === 204) break; // read to its end already
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        setStatus(`Error: ${(body.error && body.error.message) || response.status}`, "error");
        return;
      }
      if (attempt > 0) {
        current.resumes += 1;
        $("resumed").hidden = false;
        $("resumed").textContent = `Resumed after event ${current.lastId} (${current.resumes} time${current.resumes > 1 ? "s" : ""}).`;
        document.body.dataset.resumes = String(current.resumes);
        setStatus("Resumed.", "streaming");
      }
      await readEvents(response.body);
    } catch (error) {
      if (current.abort.signal.aborted) return;
    }
    if (!current.final) {
      attempt += 1;
      setStatus("Connection lost; reconnecting…", "reconnecting");
      await sleep(current.retry);
    }
  }
}

async function start(event) {
  event.preventDefault();
  if (run) run.abort.abort();
  const schemaName = $("schema").value;
  $("answer").textContent = "";
  $("usage").textContent = "";
  $("resumed").hidden = true;
  delete document.body.dataset.resumes;
  const card = schemaName ? buildCard(schemaName) : null;
  if (!card) $("card").hidden = true;
  const body = { prompt: $("prompt").value };
  if ($("model").value) body.model = $("model").value;
  if (schemaName) body.schema_name = schemaName;
  setStatus("Starting…", "starting");
  const response = await fetch("v1/streams", {
    method: "POST",
    headers: { ...authHeaders(), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const created = await response.json();
  if (!response.ok) {
    setStatus(`Error: ${created.error.message}`, "error");
    return;
  }
  run = {
    id: created.id, lastId: null, retry: 1000, final: false, resumes: 0,
    text: "", doc: undefined, closed: new Set(), card, abort: new AbortController(),
  };
  document.body.dataset.streamId = created.id;
  $("cancel").disabled = false;
  setStatus("Streaming…", "streaming");
  follow(run);
}

async function cancel() {
  if (!run) return;
  await fetch(`v1/streams/${run.id}/cancel`, { method: "POST", headers: authHeaders() });
}

$("form").addEventListener("submit", start);
$("cancel").addEventListener("click", cancel);
$("key").addEventListener("change", loadSchemas);
loadSchemas();
