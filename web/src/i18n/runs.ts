// Messages of the runs pages: English, and German typed by it.
export const en = {};

export const de: typeof en = {};
