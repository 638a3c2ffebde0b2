// @ts-check
/**
 * File choosers in the page's language. A native file input shows its
 * button and "no file" text in the browser's language, so each input is
 * visually hidden (still focusable, still the labelled control) and a
 * label styled as a button opens it; a line beside it names the chosen
 * file. Markup: <input type=file class="file-input" id=X>, then
 * <label for=X class="btn file-button" data-i18n="chooseFile">, then
 * <span class="file-name" data-file-name-for=X>.
 */

import { t } from "../i18n.js";

/** Writes each chooser's file name (or "no file chosen") in the page's language. */
export function renderFileChoosers() {
  document.querySelectorAll("[data-file-name-for]").forEach((span) => {
    const input = document.getElementById(span.getAttribute("data-file-name-for") || "");
    const file = input instanceof HTMLInputElement && input.files && input.files[0];
    span.textContent = file ? file.name : t("noFileChosen");
  });
}

/** Keeps the file names current as files are chosen. */
export function setupFileChoosers() {
  document.querySelectorAll("input.file-input").forEach((input) => {
    input.addEventListener("change", renderFileChoosers);
  });
}
