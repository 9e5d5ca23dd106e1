// The order pages' few enhancements. Every page works without this script; it adds item rows
// to the order form and removes them, and keeps the delivery timeline up to date. It is loaded
// as a module: deferred, strict, and with nothing leaking into the global scope.

// Rows are named items[0], items[1], ... in page order, so that what is posted, the ids the
// labels and error messages point at, and the row legends stay in step after an edit.
function renumberRows(rows) {
  rows.querySelectorAll('.item-row').forEach((row, index) => {
    row.querySelectorAll('[name], [id], [for], [aria-describedby]').forEach((element) => {
      for (const attribute of ['name', 'id', 'for', 'aria-describedby']) {
        const value = element.getAttribute(attribute);
        if (value) {
          element.setAttribute(attribute, value.replace(/items\[\d+\]/g, `items[${index}]`));
        }
      }
    });
    row.querySelector('legend').textContent = `Item ${index + 1}`;
  });
}

function enhanceItemRows() {
  const rows = document.getElementById('item-rows');
  const template = document.getElementById('item-template');
  const add = document.getElementById('add-item');
  if (!rows || !template || !add) return;
  // The buttons only work with this script, so the page shows them only now.
  for (const button of document.querySelectorAll('#add-item, #item-rows .remove-item')) {
    button.hidden = false;
  }
  add.addEventListener('click', () => {
    const row = template.content.firstElementChild.cloneNode(true);
    row.querySelector('.remove-item').hidden = false;
    rows.append(row);
    renumberRows(rows);
    row.querySelector('input').focus();
  });
  rows.addEventListener('click', (event) => {
    const remove = event.target.closest('.remove-item');
    if (!remove) return;
    remove.closest('.item-row').remove();
    renumberRows(rows);
    add.focus();
  });
}

// The server sends the whole timeline fragment on connect and after every change.
function followTimeline() {
  const timeline = document.getElementById('timeline');
  if (!timeline || !window.EventSource) return;
  const notice = document.getElementById('changed-notice');
  const shownVersion = Number(timeline.dataset.version);
  const source = new EventSource(timeline.dataset.live);
  source.addEventListener('timeline', (event) => {
    timeline.innerHTML = event.data;
    const body = timeline.querySelector('[data-latest-sequence]');
    if (notice && body && Number(body.dataset.latestSequence) > shownVersion) {
      notice.hidden = false;
    }
  });
}

// A sign-in link carries its token in the fragment (`/ui/sign-in#token=...`), which browsers
// never send to the server: copy it into the form, take it out of the address bar and history,
// and sign in.
function signInFromLink() {
  const form = document.getElementById('sign-in-form');
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (!form || !token || document.getElementById('form-error')) return;
  history.replaceState(null, '', window.location.pathname);
  form.elements.token.value = token;
  form.submit();
}

enhanceItemRows();
followTimeline();
signInFromLink();
// A link opened in a tab already on the sign-in form changes only the fragment.
window.addEventListener('hashchange', signInFromLink);
// After a refused form, start where the problem is.
document.querySelector('[aria-invalid="true"]')?.focus();
