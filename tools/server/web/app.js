// The web page of `siamface serve` (docs/web-ui.md). Plain JavaScript, no framework, no build
// step: the server compiles this file in and serves it from /assets/. One page with hash routes:
//   #/people[?page=N]   #/person/NAME[?page=N]   #/identify   #/unknown[?page=N]   #/settings
// Every call goes to the native /v1 API of the same server. The DOM is built with textContent
// only (never innerHTML), so names and file names from the gallery cannot inject markup.
'use strict';
(() => {
  const PAGE_SIZE = 50;
  const CLUSTER_PAGE_SIZE = 20;
  const state = { session: null, generation: 0 };

  // ---------- small helpers ----------
  const $ = (selector, root = document) => root.querySelector(selector);

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'value') el.value = value;
      else if (key === 'checked') el.checked = Boolean(value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  const enc = encodeURIComponent;

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // A route this server does not have (an older build): the page says so instead of failing.
  function routeMissing(error) {
    return error instanceof ApiError && error.status === 404 && /^no such endpoint/.test(error.message);
  }

  let toastTimer = 0;
  function toast(message, isError = false) {
    const el = $('#toast');
    el.textContent = message;
    el.className = isError ? 'toast error' : 'toast';
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, isError ? 8000 : 4000);
  }

  async function api(method, path, { json, form } = {}) {
    const headers = {};
    let body;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    // The session's CSRF token on every request that changes data (the server refuses it otherwise).
    if (method !== 'GET' && state.session && state.session.csrf) headers['X-Siamface-CSRF'] = state.session.csrf;
    const response = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    const type = response.headers.get('Content-Type') || '';
    const data = type.startsWith('application/json') ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      const message = (data && data.error && data.error.message) || `HTTP ${response.status}`;
      const error = new ApiError(response.status, data && data.error && data.error.code, message);
      if (response.status === 401 && state.session && state.session.auth_required) {
        showLogin('Your session has ended: log in again.');
      }
      throw error;
    }
    return data;
  }

  // Runs an action from a button: disables it meanwhile, reports errors in the toast.
  async function act(button, work) {
    if (button) button.disabled = true;
    try {
      return await work();
    } catch (error) {
      toast(routeMissing(error) ? 'Not available on this server version.' : error.message, true);
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // Only our own API's thumbnail URLs become <img src>.
  function thumbnail(url, alt, fallbackText) {
    const placeholder = () => h('div', { class: 'thumb', 'aria-hidden': 'true' }, (fallbackText || '?').slice(0, 1).toUpperCase());
    if (typeof url === 'string' && url.startsWith('/v1/')) {
      const img = h('img', { class: 'thumb', src: url, alt, loading: 'lazy', decoding: 'async', width: 112, height: 112 });
      // Faces imported from an export, or enrolled before thumbnails existed, have none (404).
      img.addEventListener('error', () => img.replaceWith(placeholder()), { once: true });
      return img;
    }
    return placeholder();
  }

  function when(value) {
    if (typeof value === 'number') return new Date(value).toLocaleString();
    if (typeof value === 'string' && value) {
      const parsed = Date.parse(value);
      return Number.isNaN(parsed) ? value : new Date(parsed).toLocaleString();
    }
    return '';
  }

  function baseName(path) {
    return String(path || '').split(/[\\/]/).pop();
  }

  function pageParam(params) {
    return Math.max(0, Number.parseInt(params.get('page') || '0', 10) || 0);
  }

  function pager(hashBase, page, total, size) {
    const pages = Math.max(1, Math.ceil(total / size));
    const link = (p, label, rel) => h('a', { class: 'button quiet', href: `${hashBase}?page=${p}`, rel }, label);
    return h('div', { class: 'pager' },
      page > 0 ? link(page - 1, '← Previous', 'prev') : null,
      h('span', { class: 'muted' }, `Page ${page + 1} of ${pages}`),
      page + 1 < pages ? link(page + 1, 'Next →', 'next') : null);
  }

  function unavailable(what) {
    return h('p', { class: 'unavailable', dataset: { unavailable: '1' } }, what);
  }

  // A drop zone around a file input: dropped photos and picked photos end up in `files()`.
  function dropZone(id, label, onChange) {
    let chosen = [];
    const input = h('input', { id, type: 'file', accept: 'image/*', multiple: true });
    const count = h('span', { class: 'small' });
    const zone = h('label', { class: 'drop', for: id }, label, count, input);
    const set = (files) => {
      chosen = Array.from(files).filter((f) => f.type === '' || f.type.startsWith('image/'));
      count.textContent = chosen.length ? ` · ${chosen.length} photo${chosen.length > 1 ? 's' : ''} chosen` : '';
      if (onChange) onChange(chosen);
    };
    input.addEventListener('change', () => set(input.files));
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      set(e.dataTransfer.files);
    });
    return { zone, files: () => chosen, clear: () => { input.value = ''; set([]); } };
  }

  async function uploadFaces(name, files) {
    const form = new FormData();
    for (const file of files) form.append('image', file, file.name);
    const result = await api('POST', `/v1/people/${enc(name)}/faces`, { form });
    const added = result.added.filter((a) => a.status === 'added').length;
    const duplicates = result.added.length - added;
    const skipped = result.skipped.map((s) => `${s.file}: ${s.reason}`);
    toast(`${name}: ${added} face${added === 1 ? '' : 's'} added` +
      (duplicates ? `, ${duplicates} already there` : '') +
      (skipped.length ? `; skipped ${skipped.join('; ')}` : ''));
    return result;
  }

  // ---------- people ----------
  async function peopleView(params) {
    const page = pageParam(params);
    const data = await api('GET', `/v1/people?offset=${page * PAGE_SIZE}&limit=${PAGE_SIZE}`);
    let items;
    let total;
    if (Array.isArray(data.items)) {
      items = data.items;
      total = data.total;
    } else {  // a server without the paged form answers every person at once
      const everyone = data.people || [];
      total = everyone.length;
      items = everyone.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    }

    const name = h('input', { id: 'new-person-name', type: 'text', placeholder: 'Name', required: true, autocomplete: 'off' });
    const drop = dropZone('new-person-files', 'Drop photos of one person here, or pick them');
    const submit = h('button', { id: 'new-person-submit', type: 'submit' }, 'Add');
    const addForm = h('form', { class: 'panel', id: 'add-person' },
      h('h2', {}, 'Add a person, or faces to someone'),
      h('div', { class: 'row' }, name, submit),
      drop.zone);
    addForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const person = name.value.trim();
      if (!person) return toast('Enter a name first.', true);
      if (!drop.files().length) return toast('Choose or drop at least one photo.', true);
      return act(submit, async () => {
        await uploadFaces(person, drop.files());
        drop.clear();
        name.value = '';
        await route();
      });
    });

    const grid = h('div', { class: 'grid', id: 'people' }, items.map((p) => h('div', {
      class: 'card person-card', dataset: { name: p.name },
    },
    h('a', { href: `#/person/${enc(p.name)}` }, thumbnail(p.thumbnail, `Face of ${p.name}`, p.name)),
    h('a', { class: 'name', href: `#/person/${enc(p.name)}`, title: p.name }, p.name),
    h('span', { class: 'muted small count' }, `${p.faces} face${p.faces === 1 ? '' : 's'}`))));

    return h('section', {},
      h('h1', {}, 'People ', h('span', { class: 'muted', id: 'people-total' }, `(${total})`)),
      addForm,
      items.length ? grid : h('p', { class: 'muted', id: 'people' }, 'Nobody enrolled yet: add a person above.'),
      total > PAGE_SIZE ? pager('#/people', page, total, PAGE_SIZE) : null);
  }

  // ---------- one person ----------
  async function facesOf(name, page) {
    try {
      const data = await api('GET', `/v1/people/${enc(name)}/faces?offset=${page * PAGE_SIZE}&limit=${PAGE_SIZE}`);
      return { items: data.items, total: data.total };
    } catch (error) {
      if (!routeMissing(error)) throw error;
      const old = await api('GET', `/v1/people/${enc(name)}`);  // a server without the paged route
      const all = old.faces.map((f) => ({ id: f.id, source: f.source, added: f.created_unix_ms, thumbnail: null }));
      return { items: all.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE), total: all.length };
    }
  }

  async function personView(name, params) {
    const page = pageParam(params);
    const { items, total } = await facesOf(name, page);
    const selected = new Set();

    const faceCards = items.map((f) => {
      const select = h('input', { type: 'checkbox', class: 'select-face', title: 'Select (for split)' });
      select.addEventListener('change', () => (select.checked ? selected.add(f.id) : selected.delete(f.id)));
      const remove = h('button', { type: 'button', class: 'danger remove-face' }, 'Remove');
      remove.addEventListener('click', () => act(remove, async () => {
        await api('DELETE', `/v1/faces/${enc(f.id)}`);
        toast('Face removed.');
        await route();
      }));
      const notPerson = h('button', { type: 'button', class: 'quiet not-person', title: `This face is not ${name}: remove it and remember` }, `Not ${name}`);
      notPerson.addEventListener('click', () => act(notPerson, async () => {
        await api('POST', `/v1/faces/${enc(f.id)}/not`);
        toast(`Noted: that face is not ${name}.`);
        await route();
      }));
      return h('div', { class: 'card face-card', dataset: { id: f.id } },
        thumbnail(f.thumbnail, `Face ${f.id}`, name),
        h('span', { class: 'small', title: f.source || '' }, baseName(f.source) || f.id),
        h('span', { class: 'small muted' }, when(f.added)),
        h('div', { class: 'faces-actions' }, h('label', { class: 'check small' }, select, 'select'), remove, notPerson));
    });

    // Add faces
    const drop = dropZone('person-files', `Drop more photos of ${name} here, or pick them`, async (files) => {
      if (!files.length) return;
      await act(null, async () => {
        await uploadFaces(name, files);
        await route();
      });
    });

    // Rename / merge / split / delete
    const renameInput = h('input', { type: 'text', id: 'rename-to', placeholder: 'New name' });
    const renameButton = h('button', { type: 'button', id: 'rename' }, 'Rename');
    renameButton.addEventListener('click', () => act(renameButton, async () => {
      const to = renameInput.value.trim();
      if (!to) return toast('Enter the new name.', true);
      await api('PUT', `/v1/people/${enc(name)}`, { json: { name: to } });
      location.hash = `#/person/${enc(to)}`;
    }));
    const mergeInput = h('input', { type: 'text', id: 'merge-into', placeholder: 'Other person' });
    const mergeButton = h('button', { type: 'button', id: 'merge' }, 'Merge into');
    mergeButton.addEventListener('click', () => act(mergeButton, async () => {
      const into = mergeInput.value.trim();
      if (!into) return toast('Enter the person to merge into.', true);
      if (!confirm(`Move every face of ${name} to ${into} and remove ${name}?`)) return;
      await api('POST', `/v1/people/${enc(name)}/merge`, { json: { into } });
      location.hash = `#/person/${enc(into)}`;
    }));
    const splitInput = h('input', { type: 'text', id: 'split-to', placeholder: 'New or existing name' });
    const splitButton = h('button', { type: 'button', id: 'split' }, 'Move selected faces to');
    splitButton.addEventListener('click', () => act(splitButton, async () => {
      const to = splitInput.value.trim();
      if (!selected.size) return toast('Select faces first.', true);
      if (!to) return toast('Enter the person to move them to.', true);
      await api('POST', `/v1/people/${enc(name)}/split`, { json: { faces: Array.from(selected), to } });
      toast(`${selected.size} face(s) moved to ${to}.`);
      await route();
    }));
    const removePerson = h('button', { type: 'button', class: 'danger', id: 'remove-person' }, `Remove ${name}`);
    removePerson.addEventListener('click', () => act(removePerson, async () => {
      if (!confirm(`Remove ${name} and all ${total} face(s)?`)) return;
      await api('DELETE', `/v1/people/${enc(name)}`);
      toast(`${name} removed.`);
      location.hash = '#/people';
    }));

    return h('section', {},
      h('p', {}, h('a', { href: '#/people' }, '← People')),
      h('h1', { id: 'person-name' }, name, ' ', h('span', { class: 'muted' }, `(${total} face${total === 1 ? '' : 's'})`)),
      h('div', { class: 'grid', id: 'faces' }, faceCards),
      total > PAGE_SIZE ? pager(`#/person/${enc(name)}`, page, total, PAGE_SIZE) : null,
      h('div', { class: 'panel' }, h('h2', {}, 'Add faces'), drop.zone),
      h('div', { class: 'panel' },
        h('h2', {}, 'Correct'),
        h('div', { class: 'row' }, renameInput, renameButton),
        h('div', { class: 'row' }, mergeInput, mergeButton),
        h('div', { class: 'row' }, splitInput, splitButton),
        h('div', { class: 'row' }, removePerson)));
  }

  // ---------- identify ----------
  function drawAnnotated(canvas, image, faces) {
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(image, 0, 0);
    const line = Math.max(2, Math.round(Math.max(canvas.width, canvas.height) / 300));
    const fontPx = Math.max(12, Math.round(Math.max(canvas.width, canvas.height) / 45));
    ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
    ctx.textBaseline = 'bottom';
    faces.forEach((face, i) => {
      const { left, top, width, height } = face.box;
      const spoof = face.reason === 'spoof';
      const color = spoof ? '#d03030' : face.known ? '#20a050' : '#e0a000';
      ctx.lineWidth = line;
      ctx.strokeStyle = color;
      ctx.strokeRect(left, top, width, height);
      const label = spoof ? `${i + 1}. SPOOF` : `${i + 1}. ${face.known ? face.name : 'unknown'} ${Number(face.distance).toFixed(2)}`;
      const textWidth = ctx.measureText(label).width + 8;
      const y = top > fontPx + 6 ? top : top + height + fontPx + 6;
      ctx.fillStyle = color;
      ctx.fillRect(left - line / 2, y - fontPx - 6, textWidth, fontPx + 6);
      ctx.fillStyle = '#000';
      ctx.fillText(label, left + 4, y - 2);
    });
  }

  function loadImage(file) {
    return new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => { URL.revokeObjectURL(url); reject(new Error(`${file.name}: the browser cannot show this image`)); };
      image.src = url;
    });
  }

  // What the face analysis says of a face (the /v1/identify attributes), in a few words.
  function attributesText(face) {
    const parts = [];
    if (face.age !== undefined) parts.push(`${face.age} y`);
    if (face.gender) parts.push(`${face.gender.value} ${Math.round(face.gender.probability * 100)}%`);
    if (face.expression) parts.push(face.expression.value);
    if (face.liveness) parts.push(`${face.liveness.value} ${Number(face.liveness.score).toFixed(2)}`);
    if (face.too_small) parts.push('too small to analyse');
    return parts.join(', ');
  }

  async function identifyView() {
    const keep = h('input', { type: 'checkbox', id: 'identify-keep-unknown' });
    const liveness = h('input', { type: 'checkbox', id: 'identify-liveness' });
    const attributes = h('input', { type: 'checkbox', id: 'identify-attributes', checked: true });
    const keepHint = h('span', { class: 'muted small' });
    try {
      const settings = await api('GET', '/v1/settings');
      if (!settings.keep_unknown) {
        keep.disabled = true;
        keepHint.append(' (off for this gallery: turn it on in ', h('a', { href: '#/settings' }, 'Settings'), ')');
      }
    } catch (error) {
      if (!routeMissing(error)) throw error;
      keep.disabled = true;
      keepHint.textContent = ' (not available on this server version)';
    }
    const output = h('div', { id: 'identify-result' });
    const drop = dropZone('identify-file', 'Drop a photo here, or pick one, to see who is in it', (files) => {
      if (files.length) act(null, () => identify(files[0]));
    });
    drop.zone.querySelector('input').removeAttribute('multiple');

    async function identify(file) {
      output.dataset.done = '';
      output.replaceChildren(h('p', { class: 'muted' }, 'Identifying…'));
      const form = new FormData();
      form.append('image', file, file.name);
      form.append('top_k', '3');
      if (keep.checked) form.append('keep_unknown', 'true');
      if (liveness.checked) form.append('liveness', 'true');
      if (attributes.checked) form.append('attributes', 'age,gender,expression');
      const [result, image] = await Promise.all([api('POST', '/v1/identify', { form }), loadImage(file)]);
      const canvas = h('canvas', { id: 'identify-canvas', 'aria-label': `${file.name}, ${result.faces.length} face(s)` });
      drawAnnotated(canvas, image, result.faces);
      URL.revokeObjectURL(image.src);
      const rows = result.faces.map((face, i) => {
        const actions = h('td', {});
        if (face.known) {
          const not = h('button', { type: 'button', class: 'quiet not-match' }, `Not ${face.name}`);
          not.addEventListener('click', () => act(not, async () => {
            const correction = new FormData();
            correction.append('image', file, file.name);
            correction.append('x', String(Math.round(face.box.left)));
            correction.append('y', String(Math.round(face.box.top)));
            correction.append('width', String(Math.round(face.box.width)));
            correction.append('height', String(Math.round(face.box.height)));
            await api('POST', `/v1/people/${enc(face.name)}/not`, { form: correction });
            toast(`Noted: face ${i + 1} is not ${face.name}.`);
            await identify(file);
          }));
          actions.append(not);
        }
        const top = (face.top || []).map((m) => `${m.person} ${Number(m.distance).toFixed(2)}`).join(', ');
        const spoof = face.reason === 'spoof';
        const nameCell = spoof ? 'unknown: spoof' : face.known ? face.name : 'unknown';
        return h('tr', { class: spoof ? 'identify-face spoof' : 'identify-face',
          dataset: { name: face.known ? face.name : '', index: String(i + 1), reason: face.reason || '' } },
          h('td', {}, String(i + 1)),
          h('td', { class: face.known ? 'known face-name' : 'face-name' }, nameCell),
          h('td', {}, Number(face.distance).toFixed(3)),
          h('td', { class: 'face-attributes small' }, attributesText(face)),
          h('td', { class: 'muted small' }, top),
          actions);
      });
      const spoofs = result.faces.map((face, i) => [face, i + 1]).filter(([face]) => face.reason === 'spoof');
      const warning = spoofs.length
        ? h('p', { class: 'warning', id: 'spoof-warning', role: 'alert' },
          `Face ${spoofs.map(([, n]) => n).join(', ')} looks like a photo or a screen held up to the camera ` +
          `(liveness ${spoofs.map(([face]) => Number(face.liveness.score).toFixed(2)).join(', ')}, ` +
          `live from ${Number(spoofs[0][0].liveness.threshold).toFixed(2)}): not named.`)
        : '';
      output.replaceChildren(
        warning,
        h('div', { class: 'stage' }, canvas),
        result.faces.length
          ? h('table', { class: 'results' },
            h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Name'), h('th', {}, 'Distance'), h('th', {}, 'Age, gender, expression'), h('th', {}, 'Closest'), h('th', {}, ''))),
            h('tbody', {}, rows))
          : h('p', { class: 'muted', id: 'no-faces' }, 'No face found in this photo.'));
      if (result.unknown) {
        const k = result.unknown;
        toast(`Kept ${k.kept} unknown face${k.kept === 1 ? '' : 's'}` +
          (k.duplicates ? `, ${k.duplicates} already kept` : '') + (k.low_quality ? `, ${k.low_quality} too poor to keep` : '') + '.');
      }
      output.dataset.done = '1';
    }

    return h('section', {},
      h('h1', {}, 'Identify'),
      h('div', { class: 'panel' }, drop.zone,
        h('label', { class: 'check small' }, keep, 'Keep the unknown faces of this photo, to name them later'), keepHint,
        h('label', { class: 'check small' }, liveness,
          'Check liveness: a photo or screen held up is never named (see docs/analysis.md for its error rates)'),
        h('label', { class: 'check small' }, attributes, 'Show age, gender and expression')),
      output);
  }

  // ---------- unknown faces ----------
  async function unknownView(params) {
    const page = pageParam(params);
    let data;
    try {
      data = await api('GET', `/v1/clusters?offset=${page * CLUSTER_PAGE_SIZE}&limit=${CLUSTER_PAGE_SIZE}`);
    } catch (error) {
      if (!routeMissing(error)) throw error;
      return h('section', {}, h('h1', {}, 'Unknown faces'),
        unavailable('Unknown faces and their clusters are not available on this server version (it has no GET /v1/clusters).'));
    }
    let unknownTotal = null;
    try {
      unknownTotal = (await api('GET', '/v1/unknown?offset=0&limit=1')).total;
    } catch (error) { /* the count is a nicety */ }

    const selected = new Set();
    const refresh = h('button', { type: 'button', id: 'refresh-clusters' }, 'Re-cluster');
    refresh.addEventListener('click', () => act(refresh, async () => {
      const result = await api('POST', '/v1/clusters/refresh');
      toast(`${result.clusters} cluster${result.clusters === 1 ? '' : 's'}.`);
      await route();
    }));
    const mergeName = h('input', { type: 'text', id: 'merge-clusters-name', placeholder: 'Name for the selected clusters' });
    const mergeButton = h('button', { type: 'button', id: 'merge-clusters' }, 'Name selected as one person');
    mergeButton.addEventListener('click', () => act(mergeButton, async () => {
      const person = mergeName.value.trim();
      if (selected.size < 1) return toast('Select clusters first.', true);
      if (!person) return toast('Enter a name.', true);
      for (const id of selected) await api('POST', `/v1/clusters/${enc(id)}/promote`, { json: { person } });
      toast(`${selected.size} cluster(s) named ${person}.`);
      await route();
    }));

    const checkboxes = new Map();
    const cards = data.items.map((c) => {
      const id = String(c.cluster);
      const select = h('input', { type: 'checkbox', class: 'cluster-select' });
      checkboxes.set(id, select);
      select.addEventListener('change', () => (select.checked ? selected.add(id) : selected.delete(id)));
      const name = h('input', { type: 'text', class: 'cluster-name', placeholder: 'Who is this?' });
      const promote = h('button', { type: 'submit', class: 'promote' }, 'Name');
      const form = h('form', { class: 'row' }, name, promote);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const person = name.value.trim();
        if (!person) return toast('Enter a name.', true);
        return act(promote, async () => {
          await api('POST', `/v1/clusters/${enc(id)}/promote`, { json: { person } });
          toast(`Unknown #${id} is now ${person}.`);
          await route();
        });
      });
      const dismiss = h('button', { type: 'button', class: 'danger dismiss' }, 'Dismiss');
      dismiss.addEventListener('click', () => act(dismiss, async () => {
        if (!confirm(`Delete the ${c.size} unknown face(s) of cluster #${id}?`)) return;
        await api('DELETE', `/v1/clusters/${enc(id)}`);
        toast(`Cluster #${id} dismissed.`);
        await route();
      }));
      const close = (c.close || []).map((other) => {
        const pick = h('button', { type: 'button', class: 'quiet small same-as' }, `#${other.cluster} (${Number(other.distance).toFixed(2)})`);
        pick.title = 'Select both, to name them as one person';
        pick.addEventListener('click', () => {
          for (const cid of [id, String(other.cluster)]) {
            selected.add(cid);
            if (checkboxes.has(cid)) checkboxes.get(cid).checked = true;
          }
          mergeName.focus();
        });
        return pick;
      });
      return h('div', { class: 'card cluster cluster-card', dataset: { cluster: id } },
        h('header', {}, h('strong', {}, `Unknown #${id}`), h('span', { class: 'muted small' }, `${c.size} face${c.size === 1 ? '' : 's'}`)),
        h('div', { class: 'thumbs' }, (c.faces || []).map((f) => thumbnail(f.thumbnail, `Unknown face ${f.id}`, '?'))),
        close.length ? h('div', { class: 'row small' }, h('span', { class: 'muted' }, 'Close to:'), close) : null,
        form,
        h('div', { class: 'row' }, h('label', { class: 'check small' }, select, 'select'), dismiss));
    });

    return h('section', {},
      h('h1', {}, 'Unknown faces ', h('span', { class: 'muted', id: 'clusters-total' },
        `(${data.total} cluster${data.total === 1 ? '' : 's'}${unknownTotal === null ? '' : `, ${unknownTotal} faces`})`)),
      h('div', { class: 'panel row' }, refresh, mergeName, mergeButton),
      cards.length
        ? h('div', { class: 'grid', id: 'clusters' }, cards)
        : h('p', { class: 'muted', id: 'clusters' }, 'No clusters. Identify photos with "keep unknown faces" on, then re-cluster.'),
      data.total > CLUSTER_PAGE_SIZE ? pager('#/unknown', page, data.total, CLUSTER_PAGE_SIZE) : null);
  }

  // ---------- settings ----------
  async function calibrationPanel() {
    const panel = h('div', { class: 'panel calibration', id: 'calibration' }, h('h2', {}, 'Calibration'));
    const response = await fetch(`/v1/calibration.svg?t=${Date.now()}`, { credentials: 'same-origin', cache: 'no-store' });
    if (response.ok) {
      const url = URL.createObjectURL(await response.blob());
      panel.append(h('img', { src: url, alt: 'Distances between faces of the same person and of different people, with the threshold' }));
    } else {
      const data = await response.json().catch(() => null);
      const message = (data && data.error && data.error.message) || `HTTP ${response.status}`;
      panel.append(/^no such endpoint/.test(message)
        ? unavailable('The calibration plot is not available on this server version.')
        : h('p', { class: 'muted' }, message));
    }
    return panel;
  }

  async function settingsView() {
    const health = await api('GET', '/health');
    const info = h('div', { class: 'panel small' }, h('h2', {}, 'Server'),
      h('p', {}, `Gallery ${health.gallery.path}: ${health.gallery.people} people, ${health.gallery.faces} faces.`),
      h('p', { class: 'muted' }, `Model ${health.model.name} ${health.model.version}; recognizer ${health.recognizer}, detector ${health.detector}.`));

    let settingsPanel;
    try {
      const settings = await api('GET', '/v1/settings');
      // Stored as a float: 0.6 comes back as 0.6000000238.
      const shown = typeof settings.threshold === 'number' ? String(Math.round(settings.threshold * 1000) / 1000) : '';
      const threshold = h('input', { type: 'number', id: 'setting-threshold', step: '0.01', min: '0', max: '4', value: shown });
      const keep = h('input', { type: 'checkbox', id: 'setting-keep-unknown', checked: settings.keep_unknown });
      const maxFaces = h('input', { type: 'number', id: 'setting-unknown-max-faces', min: '1', step: '1', value: settings.unknown_max_faces ?? '' });
      const maxAge = h('input', { type: 'number', id: 'setting-unknown-max-age-days', min: '1', step: '1', value: settings.unknown_max_age_days ?? '' });
      const save = h('button', { type: 'submit', id: 'save-settings' }, 'Save');
      const form = h('form', { class: 'settings' },
        h('label', { for: 'setting-threshold' }, 'Match threshold (distance)'), threshold,
        h('label', { for: 'setting-keep-unknown' }, 'Keep unknown faces'), keep,
        h('label', { for: 'setting-unknown-max-faces' }, 'Unknown faces kept, at most'), maxFaces,
        h('label', { for: 'setting-unknown-max-age-days' }, 'Unknown faces kept, days'), maxAge,
        h('span', {}), h('div', {}, save));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(save, async () => {
          const body = { keep_unknown: keep.checked };
          if (threshold.value !== '') body.threshold = Number(threshold.value);
          if (maxFaces.value !== '') body.unknown_max_faces = Number(maxFaces.value);
          if (maxAge.value !== '') body.unknown_max_age_days = Number(maxAge.value);
          await api('PUT', '/v1/settings', { json: body });
          toast('Settings saved.');
          await route();
        });
      });
      settingsPanel = h('div', { class: 'panel' }, h('h2', {}, 'Gallery settings'), form);
    } catch (error) {
      if (!routeMissing(error)) throw error;
      settingsPanel = h('div', { class: 'panel' }, h('h2', {}, 'Gallery settings'),
        h('p', {}, `Threshold: ${health.gallery.threshold ?? 'the model default'}.`),
        unavailable('Changing settings here is not available on this server version (use `siamface set-threshold`).'));
    }
    return h('section', {}, h('h1', {}, 'Settings'), settingsPanel, await calibrationPanel(), info);
  }

  // ---------- routing, login ----------
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [path, query] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
    return { parts, params: new URLSearchParams(query || '') };
  }

  async function route() {
    if (!state.session || (state.session.auth_required && !state.session.logged_in)) return;
    const generation = ++state.generation;
    const { parts, params } = parseHash();
    const view = parts[0] || 'people';
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.view === view || (view === 'person' && a.dataset.view === 'people'));
    }
    const main = $('#view');
    main.dataset.ready = '';
    let content;
    try {
      switch (view) {
        case 'person': content = await personView(parts[1] || '', params); break;
        case 'identify': content = await identifyView(); break;
        case 'unknown': content = await unknownView(params); break;
        case 'settings': content = await settingsView(); break;
        default: content = await peopleView(params); break;
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      content = h('p', { class: 'error', id: 'view-error' }, error.message);
    }
    if (generation !== state.generation) return;  // the user moved on meanwhile
    main.replaceChildren(content);
    main.dataset.ready = view;
    if (view === 'people') performance.mark('siamface:people-rendered');
  }

  function showLogin(message) {
    state.session = { ...(state.session || {}), logged_in: false, csrf: null };
    $('#nav').hidden = true;
    $('#logout').hidden = true;
    $('#view').replaceChildren();
    $('#view').dataset.ready = '';
    $('#login').hidden = false;
    $('#login-error').textContent = message || '';
    $('#login-key').focus();
  }

  function showApp() {
    $('#login').hidden = true;
    $('#nav').hidden = false;
    $('#logout').hidden = !state.session.auth_required;
    route();
  }

  async function login(event) {
    event.preventDefault();
    const key = $('#login-key').value;
    const button = $('#login-submit');
    button.disabled = true;
    try {
      const response = await fetch('/login', { method: 'POST', body: new URLSearchParams({ key }), credentials: 'same-origin' });
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        $('#login-error').textContent = (data && data.error && data.error.message) || `HTTP ${response.status}`;
        return;
      }
      $('#login-key').value = '';
      state.session = data;
      showApp();
    } catch (error) {
      $('#login-error').textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  async function logout() {
    await fetch('/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => null);
    showLogin('Logged out.');
  }

  async function start() {
    $('#login-form').addEventListener('submit', login);
    $('#logout').addEventListener('click', logout);
    window.addEventListener('hashchange', route);
    try {
      const response = await fetch('/session', { credentials: 'same-origin', cache: 'no-store' });
      state.session = await response.json();
    } catch (error) {
      $('#view').replaceChildren(h('p', { class: 'error' }, `Cannot reach the server: ${error.message}`));
      return;
    }
    if (state.session.auth_required && !state.session.logged_in) showLogin();
    else showApp();
  }

  start();
})();
