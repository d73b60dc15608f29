// Messages of the reports pages: English, and German typed by it.
export const en = {};

export const de: typeof en = {};
