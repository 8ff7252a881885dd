"""Seed data for staging and local runs: a small catalog with generated images. Idempotent: only adds what is
missing. (Country rules are not seed data: migration 0002 installs the defaults everywhere, prod included.)"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select

from shop.media import placeholder_svg
from shop.models import Product
from shop.observability import log_event
from shop.runtime import Runtime

log = logging.getLogger("shop.seed")

# sku, name, category, price (minor units), stock, description
PRODUCTS = (
    ("MUG-CLASSIC", "Classic mug", "mugs", 1400, 120, "A sturdy 350 ml stoneware mug that survives the dishwasher."),
    ("MUG-ENAMEL", "Enamel camp mug", "mugs", 1800, 60, "Light, chip-resistant enamel for desks and campfires."),
    ("MUG-TRAVEL", "Travel tumbler", "mugs", 2900, 45, "Double-walled steel keeps coffee hot for six hours."),
    ("MUG-ESPRESSO", "Espresso cup pair", "mugs", 2200, 30, "Two 80 ml porcelain cups with saucers."),
    ("TEE-LOGO", "Logo t-shirt", "t-shirts", 2500, 200, "Organic cotton, regular fit, printed in the EU."),
    ("TEE-CLOUD", "Cloud t-shirt", "t-shirts", 2700, 80, "Soft heavyweight cotton with a small cloud print."),
    ("TEE-STRIPE", "Striped long sleeve", "t-shirts", 3400, 50, "Breton stripes in navy and cream."),
    ("TEE-KIDS", "Kids t-shirt", "t-shirts", 1800, 70, "The logo tee in sizes 2 to 12."),
    ("HOOD-ZIP", "Zip hoodie", "hoodies", 5900, 40, "Brushed fleece inside, recycled polyester outside."),
    ("HOOD-PULL", "Pullover hoodie", "hoodies", 5400, 35, "Kangaroo pocket and a roomy hood."),
    ("HOOD-CREW", "Crew sweatshirt", "hoodies", 4800, 25, "Loopback cotton that gets better with every wash."),
    ("NB-DOT", "Dot grid notebook", "notebooks", 1600, 150, "A5, 160 pages of 100 g paper, lay-flat binding."),
    ("NB-LINED", "Lined notebook", "notebooks", 1600, 140, "A5, 160 lined pages, numbered and with an index."),
    ("NB-POCKET", "Pocket notebook set", "notebooks", 1200, 90, "Three slim notebooks that fit any pocket."),
    ("NB-PLANNER", "Undated planner", "notebooks", 2400, 40, "Weekly spreads you can start any time of year."),
    ("STK-PACK", "Sticker pack", "stickers", 600, 500, "Ten weatherproof vinyl stickers."),
    ("STK-HOLO", "Holographic sticker", "stickers", 300, 300, "One shiny logo sticker."),
    ("STK-LAPTOP", "Laptop sticker sheet", "stickers", 800, 220, "A sheet of small icons for laptops and bottles."),
    ("PST-MAP", "City map poster", "posters", 3200, 20, "50 x 70 cm on matte 200 g paper."),
    ("PST-NIGHT", "Night sky poster", "posters", 3200, 15, "The stars over the harbour, printed in dark blue."),
    ("PST-MINI", "Mini print set", "posters", 2000, 0, "Four A5 prints. Back in stock soon."),
    ("BAG-TOTE", "Canvas tote", "bags", 2000, 110, "Heavy canvas with long handles and an inner pocket."),
    ("BAG-BACK", "Roll-top backpack", "bags", 8900, 12, "Waterproof 20 l backpack with a laptop sleeve."),
    ("BAG-POUCH", "Zip pouch", "bags", 1500, 75, "For pens, cables and everything else."),
)


async def seed(rt: Runtime) -> int:
    currency = rt.settings.currency
    added = 0
    async with rt.sessions.begin() as session:
        have_products = set((await session.scalars(select(Product.sku))).all())
        for sku, name, category, price, stock, description in PRODUCTS:
            if sku in have_products:
                continue
            image = placeholder_svg(sku, name)
            key = f"products/{sku.lower()}-{hashlib.sha256(image).hexdigest()[:16]}.svg"
            await rt.media.put(key, image, "image/svg+xml")
            session.add(
                Product(
                    sku=sku,
                    name=name,
                    description=description,
                    category=category,
                    price_amount=price,
                    currency=currency,
                    stock=stock,
                    image_key=key,
                    active=True,
                )
            )
            added += 1
    await rt.catalog.cache.invalidate()
    log_event(log, "seeded", products=added)
    return added
