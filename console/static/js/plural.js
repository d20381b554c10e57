// Plural forms in the browser. The page puts a message's forms, keyed by CLDR category, into its JSON texts
// (console.i18n.plural_forms: {"one": "{num} камера", "few": "{num} камеры", "many": "{num} камер", ...});
// plural() picks the form for a number in the page's language and fills in {num}.

const rules = new Map();

function rulesFor(lang) {
  if (!rules.has(lang)) rules.set(lang, new Intl.PluralRules(lang));
  return rules.get(lang);
}

export function plural(forms, count, lang = document.documentElement.lang || "ru") {
  const category = rulesFor(lang).select(count);
  const template = forms[category] ?? forms.other ?? forms.many ?? "";
  return template.replaceAll("{num}", String(count));
}
