// Pages of a list: "← Previous · 1–25 of 60 · Next →" under it, for any API list answer
// ({items, total, limit, offset}). The API caps a page at 50, so no list asks for more.
import { h, mount } from "./dom.js";

/** The page size of the UI's lists. */
export const PAGE_SIZE = 25;

/**
 * A pager named *label* ("Pages of users"). *turn(offset)* loads that page; call
 * *show(page)* with each answer. A single page shows its count only.
 */
export function pager(label, turn, noun = "item") {
  const element = h("nav", { class: "pager", "aria-label": label });
  const show = (page) => {
    const last = Math.min(page.offset + page.items.length, page.total);
    mount(element, page.total > page.limit ? [
      h("button", { type: "button", disabled: page.offset === 0, onclick: () => turn(Math.max(0, page.offset - page.limit)) }, "← Previous"),
      h("span", { class: "muted", "aria-live": "polite" }, `${page.offset + 1}–${last} of ${page.total}`),
      h("button", { type: "button", disabled: last >= page.total, onclick: () => turn(page.offset + page.limit) }, "Next →"),
    ] : page.total ? h("span", { class: "muted" }, `${page.total} ${noun}${page.total === 1 ? "" : "s"}`) : null);
  };
  return { element, show };
}
