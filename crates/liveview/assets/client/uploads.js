
const uploads = new Map();
let lastUploadId = 0;
const filesOf = (scope) => (scope.tagName === 'INPUT' ? [scope] : Array.from(scope.elements || []))
  .filter((input) => input.type === 'file' && input.name && !input.disabled && input.files?.length);
const inScope = (input, attr) => (input.form || doc).querySelector(`[${attr}="${CSS.escape(input.name)}"]`);
const uploadFailure = (message, input) => Object.assign(new Error(message), { input });
async function uploadThenSend(el, fn, data, fields, type, inputs) {
  const ids = {}, jobs = [], own = [], mark = -++lastUploadId; // a negative ref: loading state while uploading
  busy(mark, el, type);
  try {
    for (const input of inputs) {
      uploadError(input, '');
      const list = inScope(input, 'data-liveview-upload-list');
      if (list) list.textContent = '';
      input.classList.add('lv-uploading');
      for (const file of input.files) {
        const id = ++lastUploadId;
        (ids[input.name] = ids[input.name] || []).push(id);
        own.push(id);
        jobs.push(startUpload(id, fn, input, file, list));
      }
    }
    await Promise.all(jobs);
    done(mark);
    return send(fn, data, fields, el, type, ids);
  } catch (err) {
    done(mark);
    for (const id of own) cancelUpload(id, err.message);
    const input = err.input || inputs[0];
    uploadError(input, err.message);
    emit('upload-error', { input, message: err.message });
  } finally {
    for (const input of inputs) input.classList.remove('lv-uploading');
  }
}
function startUpload(id, fn, input, file, list) {
  return new Promise((resolve, reject) => {
    if (!isOpen()) return reject(uploadFailure('not connected', input));
    let item;
    if (list) {
      item = doc.createElement('li');
      item.className = 'lv-upload';
      item.append(Object.assign(doc.createElement('span'), { textContent: file.name + ' ' }),
        Object.assign(doc.createElement('progress'), { max: file.size || 1, value: 0 }));
      list.append(item);
    }
    uploads.set(id, { id, file, input, item, socket, sent: 0, acked: 0, pumping: false, resolve,
      reject: (message) => reject(uploadFailure(message, input)) });
    socket.send(JSON.stringify({ upload: { op: 'start', id, function: String(fn), field: input.name,
      name: file.name, type: file.type, size: file.size } }));
  });
}
// Acknowledgements call this again.
async function pump(upload) {
  if (upload.pumping) return;
  upload.pumping = true;
  try {
    while (uploads.get(upload.id) === upload && upload.sent < upload.file.size &&
        upload.sent - upload.acked < UPLOAD_WINDOW * CHUNK_SIZE) {
      const end = Math.min(upload.file.size, upload.sent + CHUNK_SIZE);
      const body = await upload.file.slice(upload.sent, end).arrayBuffer();
      if (uploads.get(upload.id) !== upload || upload.socket !== socket) return;
      const frame = new Uint8Array(CHUNK_HEADER_SIZE + body.byteLength), view = new DataView(frame.buffer);
      view.setUint32(0, upload.id);
      view.setBigUint64(4, BigInt(upload.sent));
      frame.set(new Uint8Array(body), CHUNK_HEADER_SIZE);
      socket.send(frame);
      upload.sent = end;
    }
  } catch (err) {
    finishUpload(upload, 'cannot read ' + upload.file.name + ': ' + err.message);
  } finally {
    upload.pumping = false;
  }
}
function onUploadFrame(frame) {
  const upload = uploads.get(frame.upload.id);
  if (!upload) return;
  if (frame.error != null) return finishUpload(upload, String(frame.error));
  const { status, received } = frame.upload;
  if (received != null) { upload.acked = received; progress(upload); }
  if (status === 'done') {
    upload.acked = upload.file.size;
    progress(upload);
    finishUpload(upload);
  } else if (upload.socket !== socket) resyncUploads(); // replayed after a resume
  else if (status === 'ready' || received != null) pump(upload);
}
// Resumed: once the replay settled, pumping goes on where the server is.
let resyncTimer;
function resyncUploads() {
  clearTimeout(resyncTimer);
  resyncTimer = setTimeout(() => uploads.forEach((upload) => {
    if (upload.socket !== socket && isOpen()) { upload.socket = socket; upload.sent = upload.acked; pump(upload); }
  }), 150);
}
function progress(upload) {
  if (upload.item) upload.item.lastChild.value = upload.acked;
  let total = 0, acked = 0;
  for (const other of uploads.values()) {
    if (other.input === upload.input) { total += other.file.size; acked += other.acked; }
  }
  upload.input.style.setProperty('--lv-upload-progress', total ? (acked / total).toFixed(3) : '1');
}
function finishUpload(upload, error) {
  if (uploads.get(upload.id) !== upload) return;
  uploads.delete(upload.id);
  if (upload.item) upload.item.classList.add(error ? 'lv-upload-failed' : 'lv-upload-done');
  if (error) upload.reject(error); else upload.resolve();
}
function cancelUpload(id, why) {
  const upload = uploads.get(id);
  if (!upload) return;
  if (isOpen()) socket.send(JSON.stringify({ upload: { op: 'cancel', id } }));
  finishUpload(upload, why || 'upload cancelled');
}
function abortUploads(why) {
  for (const upload of Array.from(uploads.values())) finishUpload(upload, why);
}
function uploadError(input, message) {
  let box = inScope(input, 'data-liveview-upload-error');
  if (!box && message) {
    const next = input.nextElementSibling;
    box = next?.classList.contains('lv-upload-error') ? next : doc.createElement('p');
    box.className = 'lv-upload-error';
    box.setAttribute('role', 'alert');
    input.after(box);
  }
  if (!box) return;
  box.textContent = message;
  box.hidden = !message;
}

doc.addEventListener('click', (e) => {
  const button = e.target.closest?.('[data-liveview-upload-cancel]');
  if (!button) return;
  e.preventDefault();
  const scope = formOf(button) || doc;
  for (const upload of Array.from(uploads.values())) {
    if (scope === doc || upload.input.form === scope) cancelUpload(upload.id);
  }
});
const dropZone = (e) => e.target.closest?.('[data-liveview-upload-drop]');
for (const type of ['dragenter', 'dragover']) {
  doc.addEventListener(type, (e) => {
    const zone = dropZone(e);
    if (!zone) return;
    e.preventDefault();
    zone.classList.add('lv-dragover');
  });
}
doc.addEventListener('dragleave', (e) => {
  const zone = dropZone(e);
  if (zone && !zone.contains(e.relatedTarget)) zone.classList.remove('lv-dragover');
});
doc.addEventListener('drop', (e) => {
  const zone = dropZone(e);
  if (!zone) return;
  e.preventDefault();
  zone.classList.remove('lv-dragover');
  const name = zone.getAttribute('data-liveview-upload-drop');
  const input = (formOf(zone) || doc).querySelector(`input[type=file][name="${CSS.escape(name)}"]`);
  if (!input || !e.dataTransfer?.files.length) return warn('nothing to drop into', name);
  input.files = e.dataTransfer.files;
  input.dispatchEvent(new Event('change', { bubbles: true }));
});
