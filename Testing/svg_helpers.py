"""Reading the SVG pictures we draw as XML: shared by the gauge and chart tests."""
from __future__ import annotations

import xml.etree.ElementTree as ET

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def find_id(root: ET.Element, ident: str) -> ET.Element:
    found = root.find(f".//*[@id='{ident}']")
    assert found is not None, f"no element with id {ident}"
    return found
