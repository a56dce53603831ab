// This browser's images, kept across reloads in IndexedDB (localStorage is too small for
// PNGs). Each record: {id, created, image (base64 PNG), width, height, seed, params}.

const DB_NAME = 'sd-worker';
const STORE = 'images';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req && req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

// Oldest first.
export const allImages = () => run('readonly', (s) => s.getAll());
// Resolves with the new record's id.
export const addImage = (record) => run('readwrite', (s) => s.add(record));
export const deleteImage = (id) => run('readwrite', (s) => s.delete(id));
export const clearImages = () => run('readwrite', (s) => s.clear());
