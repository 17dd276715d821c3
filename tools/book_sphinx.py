"""The book's own Sphinx extension: an author-year bibliography.

The chapters cite author-year (``bibtex_reference_style: author_year`` renders
``{cite:p}`polyak1964``` as "(Polyak, 1964)"), so the references page labels each entry
the same way, "[Polyak, 1964]", instead of pybtex's alpha or numeric labels. The names
follow sphinxcontrib-bibtex's author-year citations: last names, "A and B" for two
authors, "A et al." for three or more. ``_config.yml`` selects the style with
``bibtex_default_style: authoryear``.
"""

import pybtex.plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle

LAST_NAME = pybtex.plugin.find_plugin("pybtex.style.names", "last")()


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Last, year", "Last and Other, year" or "Last et al., year"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield self.label(entry)

    @staticmethod
    def label(entry):
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [LAST_NAME.format(p, True).format().render_as("text") for p in persons]
        if not names:
            who = entry.fields["title"]
        elif len(names) <= 2:
            who = " and ".join(names)
        else:
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(PlainStyle):
    """pybtex's plain entries, sorted by author, year and title, with author-year labels."""

    default_label_style = AuthorYearLabelStyle


def setup(app):
    pybtex.plugin.register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
