"""Deterministic, realistic seed data, so every fresh store holds the same records.

Everything derives from `random.Random(42)` and the lists below; dates are fixed, not "now".
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from mautic_mcp.sandbox.store import Store

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo", "Amelia", "Levi",
    "Harper", "Ezra", "Evelyn", "Luca", "Aria", "Hugo", "Chloe", "Felix", "Nora", "Jonas", "Ingrid", "Pablo",
    "Yuki", "Ravi", "Priya", "Omar", "Fatima", "Chen", "Mei", "Kofi", "Amara", "Sven", "Astrid", "Diego",
    "Lucia", "Tomas", "Zofia", "Jakub",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson", "Anderson", "Thomas",
    "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young",
    "Schmidt", "Muller", "Rossi", "Dubois", "Novak", "Kowalski", "Jensen", "Larsen", "Tanaka", "Sato",
    "Kumar", "Patel", "Haddad", "Okafor", "Mensah", "Silva", "Costa", "Nielsen", "Berg",
)  # fmt: skip
POSITIONS = (
    "Marketing Manager", "Head of Growth", "CTO", "Sales Director", "Product Manager", "Software Engineer",
    "Operations Lead", "CEO", "Customer Success Manager", "Content Strategist", "Data Analyst",
    "VP Marketing", "Procurement Officer", "Founder",
)  # fmt: skip
# name, domain, industry, city, state, country, employees
COMPANIES = (
    ("Acme Analytics", "acme-analytics.example", "Software", "Austin", "Texas", "United States", 120),
    ("Blue Harbor Logistics", "blueharbor.example", "Transportation", "Rotterdam", "", "Netherlands", 850),
    ("Cedar & Pine Studio", "cedarpine.example", "Design", "Portland", "Oregon", "United States", 18),
    ("Delta Fintech", "deltafintech.example", "Financial Services", "London", "", "United Kingdom", 310),
    ("Evergreen Health", "evergreen-health.example", "Healthcare", "Toronto", "Ontario", "Canada", 1400),
    ("Fjord Robotics", "fjordrobotics.example", "Manufacturing", "Oslo", "", "Norway", 95),
    ("Golden Gate Foods", "ggfoods.example", "Food & Beverage", "San Francisco", "California", "United States", 640),
    ("Helios Energy", "helios-energy.example", "Energy", "Madrid", "", "Spain", 2200),
    ("Indigo Learning", "indigolearning.example", "Education", "Dublin", "", "Ireland", 75),
    ("Juniper Retail", "juniper-retail.example", "Retail", "Chicago", "Illinois", "United States", 3100),
    ("Kestrel Security", "kestrelsec.example", "Cybersecurity", "Tel Aviv", "", "Israel", 210),
    ("Lumen Media", "lumenmedia.example", "Media", "Berlin", "", "Germany", 160),
    ("Meridian Travel", "meridiantravel.example", "Travel", "Lisbon", "", "Portugal", 290),
    ("Northwind Traders", "northwind.example", "Wholesale", "Seattle", "Washington", "United States", 540),
    ("Orchid Biotech", "orchidbio.example", "Biotechnology", "Basel", "", "Switzerland", 430),
    ("Pioneer Construction", "pioneerbuild.example", "Construction", "Melbourne", "Victoria", "Australia", 980),
    ("Quartz Cloud", "quartzcloud.example", "Software", "Warsaw", "", "Poland", 260),
    ("Riverbend Insurance", "riverbend.example", "Insurance", "Hartford", "Connecticut", "United States", 1750),
    ("Sakura Electronics", "sakura-elec.example", "Electronics", "Osaka", "", "Japan", 4200),
    ("Tidewater Consulting", "tidewater.example", "Consulting", "Paris", "", "France", 65),
)
DIAL = {
    "United States": 1, "Netherlands": 31, "United Kingdom": 44, "Canada": 1, "Norway": 47, "Spain": 34,
    "Ireland": 353, "Israel": 972, "Germany": 49, "Portugal": 351, "Switzerland": 41, "Australia": 61,
    "Poland": 48, "Japan": 81, "France": 33,
}  # fmt: skip
FREE_MAIL = ("gmail.example", "outlook.example", "proton.example")
TAGS = ("customer", "prospect", "vip", "webinar-2024", "trial", "partner", "churn-risk", "newsletter")
EU = {"Netherlands", "Spain", "Ireland", "Germany", "Portugal", "Poland", "France", "Norway", "Switzerland"}
STAGES = (
    ("Lead", 10, "Known contact with no qualifying activity yet."),
    ("Marketing Qualified Lead", 30, "Engaged enough for marketing to pass on to sales."),
    ("Sales Qualified Lead", 60, "Accepted by sales; an opportunity is being worked."),
    ("Customer", 100, "Has an active subscription or contract."),
)
# name, alias, description, rule for membership
SEGMENTS = (
    ("Newsletter Subscribers", "newsletter", "Contacts who opted in to the monthly newsletter."),
    ("Hot Leads", "hot-leads", "Contacts with more than 120 points."),
    ("Customers", "customers", "Contacts tagged as customers."),
    ("Trial Users", "trial-users", "Contacts currently on a product trial."),
    ("Europe", "europe", "Contacts located in Europe."),
    ("Webinar Attendees", "webinar-attendees", "Registered for or attended a 2024 webinar."),
)
CAMPAIGNS = (
    ("Welcome Series", "Onboards new newsletter subscribers over three weeks.", True),
    ("Trial Nurture", "Helps trial users reach their first success before the trial ends.", True),
    ("Win-back Q3", "Re-engages contacts flagged as churn risks.", True),
    ("Webinar Follow-up", "Sends recordings and a demo offer to webinar attendees.", True),
    ("Partner Enablement", "Training track for partner companies; paused for revision.", False),
)
EMAILS = (
    ("Welcome to Acme Newsletter", "Welcome aboard, {firstname}!", "list", 0),
    ("Monthly Product Digest - June", "What's new this month: dashboards, exports and more", "list", 0),
    ("Trial Day 3 Tips", "Three tips to get the most out of your trial", "template", None),
    ("Trial Ending Reminder", "Your trial ends in 3 days", "template", None),
    ("Webinar Invitation", "Join us live: Marketing automation that scales", "list", 5),
    ("Webinar Recording", "The recording you asked for is here", "template", None),
    ("We Miss You", "It's been a while, {firstname}", "template", None),
    ("Customer Success Stories", "How Northwind doubled their qualified leads", "list", 2),
)
FORMS = (
    (
        "Contact Us",
        "contactus",
        "General enquiries from the website footer.",
        ("firstname", "lastname", "email", "company", "message"),
    ),
    ("Newsletter Signup", "newsletter", "Single-field signup used across the blog.", ("email",)),
    (
        "Webinar Registration",
        "webinarreg",
        "Registration for live webinars.",
        ("firstname", "lastname", "email", "company", "position"),
    ),
    (
        "Demo Request",
        "demorequest",
        "Sales demo requests; routes to the SDR team.",
        ("firstname", "lastname", "email", "company", "phone", "employees"),
    ),
)
ASSETS = (
    ("Marketing Automation Playbook", "playbook", "pdf", "application/pdf", 2_482_112),
    ("2024 Benchmark Report", "benchmark-2024", "pdf", "application/pdf", 5_117_440),
    ("Product One-Pager", "one-pager", "pdf", "application/pdf", 482_304),
    (
        "ROI Calculator",
        "roi-calculator",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        91_136,
    ),
    (
        "Webinar Slides: Scaling Automation",
        "webinar-slides",
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        7_340_032,
    ),
    ("Brand Guidelines", "brand-guidelines", "pdf", "application/pdf", 3_221_504),
)
NOTE_TEXTS = (
    "Called to follow up on the demo; interested in the enterprise plan.",
    "Asked for pricing for {n} seats. Sent the quote.",
    "Met at the Berlin trade show. Wants a case study from their industry.",
    "Reported an issue with CSV exports; forwarded to support.",
    "Budget approved for next quarter, decision expected in {n} weeks.",
    "Prefers email over phone. Do not call before 10am.",
    "Downloaded the benchmark report twice; good moment for outreach.",
    "Champion inside the account; introduce to the solutions engineer.",
    "Renewal conversation scheduled. Concerned about onboarding time.",
    "Unsubscribed from newsletter but still active in the trial.",
)
NOTE_TYPES = ("general", "call", "email", "meeting")
PARAGRAPHS = (
    "Marketing teams tell us the same thing again and again: the tools are powerful, but the busywork "
    "piles up. This month we focused on removing that busywork, one click at a time.",
    "Our new dashboards show every campaign's reach, engagement and revenue on a single page. Filters "
    "remember your choices, and every chart can be exported as CSV or shared as a live link.",
    "Segments now refresh in near real time. When a contact fills in a form or crosses a points "
    "threshold, they move to the right segment within seconds instead of waiting for the nightly job.",
    "Customers like Northwind Traders used these features to cut their campaign setup time in half and "
    "double the number of qualified leads handed to sales each quarter.",
    "If you have questions, reply to this email: a real person on our team reads every message and will "
    "get back to you within one business day.",
)

EPOCH = datetime(2023, 1, 1, tzinfo=UTC)


def _stamp(day: int, minute: int) -> str:
    """An ISO timestamp `day` days after 2023-01-01 (a fixed epoch keeps the seed deterministic), at `minute`
    of that day; a minute past the day's end wraps round within it rather than moving to the next."""
    return (EPOCH + timedelta(days=day, minutes=minute % (24 * 60))).isoformat()


def _html(rng: random.Random, title: str, index: int) -> str:
    """A few KB of newsletter-style HTML, as long as the bodies real Mautic emails carry."""
    blocks = []
    for i in range(12 + index % 6):
        text = PARAGRAPHS[(index + i) % len(PARAGRAPHS)]
        blocks.append(
            '<tr><td style="padding:12px 32px;font-family:Helvetica,Arial,sans-serif;font-size:16px;'
            f'line-height:24px;color:#333333;"><p style="margin:0 0 12px 0;">{text}</p></td></tr>'
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width,initial-scale=1"><title>' + title + "</title><style>"
        "body{margin:0;padding:0;background:#f4f4f7}.btn{background:#4e5e9e;color:#ffffff;padding:12px 24px;"
        "border-radius:4px;text-decoration:none;display:inline-block}@media only screen and (max-width:600px)"
        "{.container{width:100%!important}}</style></head><body>"
        '<table role="presentation" class="container" width="600" align="center" cellpadding="0" '
        'cellspacing="0" style="background:#ffffff;margin:24px auto;">'
        '<tr><td style="padding:24px 32px;"><img src="https://mautic.sandbox.invalid/media/images/logo.png" '
        f'alt="Acme" width="120"></td></tr><tr><td style="padding:0 32px;"><h1>{title}</h1></td></tr>'
        + "".join(blocks)
        + '<tr><td style="padding:24px 32px;"><a class="btn" href="https://mautic.sandbox.invalid/r/'
        f'{rng.randrange(10**6, 10**7)}">Read more</a></td></tr><tr><td style="padding:24px 32px;font-size:12px;'
        'color:#888888;">You receive this email because you subscribed. <a href="{unsubscribe_url}">'
        "Unsubscribe</a> | {webview_url}<br>Acme Inc., 100 Market St, Suite 300, San Francisco, CA 94105"
        '<br><a href="https://social.sandbox.invalid/acme">LinkedIn</a> · '
        '<a href="https://video.sandbox.invalid/acme">YouTube</a></td></tr></table>'
        '<img src="https://mautic.sandbox.invalid/email/{tracking_pixel}.gif" alt="" width="1" height="1">'
        "</body></html>"
    )


def populate(store: Store) -> None:
    """Inserts every seed record through the store, inside the caller's transaction."""
    rng = random.Random(42)
    conn = store.conn

    stage_ids = []
    for i, (name, weight, description) in enumerate(STAGES):
        stage_ids.append(
            store.insert(
                "stages",
                {
                    "name": name,
                    "weight": weight,
                    "description": description,
                    "isPublished": True,
                    "dateAdded": _stamp(i, 540),
                    "dateModified": _stamp(i, 560),
                },
            )
        )

    company_ids = []
    for i, (name, domain, industry, city, state, country, employees) in enumerate(COMPANIES):
        company_ids.append(
            store.insert(
                "companies",
                {
                    "companyname": name,
                    "companyemail": f"info@{domain}",
                    "companyphone": f"+1 555 01{i:02d}",
                    "companywebsite": f"https://www.{domain}",
                    "companyindustry": industry,
                    "companyaddress1": f"{rng.randrange(1, 400)} {rng.choice(('Main', 'Harbor', 'Market'))} St",
                    "companyaddress2": "",
                    "companycity": city,
                    "companystate": state,
                    "companyzipcode": f"{rng.randrange(10000, 99999)}",
                    "companycountry": country,
                    "companynumber_of_employees": employees,
                    "companyannual_revenue": employees * rng.randrange(80, 250) * 1000,
                    "companydescription": f"{name} is a {industry.lower()} company based in {city}.",
                    "isPublished": True,
                    "dateAdded": _stamp(5 + i, 600 + i),
                    "dateModified": _stamp(40 + i, 610),
                },
            )
        )

    segment_ids = []
    for i, (name, alias, description) in enumerate(SEGMENTS):
        segment_ids.append(
            store.insert(
                "segments",
                {
                    "name": name,
                    "alias": alias,
                    "description": description,
                    "isPublished": True,
                    "isGlobal": True,
                    "isPreferenceCenter": alias == "newsletter",
                    "filters": [],
                    "category": None,
                    "dateAdded": _stamp(2 + i, 500),
                    "dateModified": _stamp(30 + i, 500),
                },
            )
        )
    segment_by_alias = dict(zip((s[1] for s in SEGMENTS), segment_ids, strict=True))

    seen: set[str] = set()
    memberships: list[tuple[int, int, str]] = []
    company_links: list[tuple[int, int, str]] = []
    contact_ids = []
    for i in range(220):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company_index = rng.randrange(len(COMPANIES)) if rng.random() < 0.85 else None
        company = COMPANIES[company_index] if company_index is not None else None
        domain = company[1] if company else rng.choice(FREE_MAIL)
        local = f"{first}.{last}".lower()
        email = f"{local}@{domain}"
        n = 2
        while email in seen:
            email = f"{local}{n}@{domain}"
            n += 1
        seen.add(email)
        home = company if company and rng.random() < 0.8 else rng.choice(COMPANIES)
        city, country = home[3], home[5]
        points = int(rng.expovariate(1 / 60))
        tags = sorted(rng.sample(TAGS, rng.choice((0, 1, 1, 2, 2, 3))))
        stage = None if rng.random() < 0.2 else stage_ids[min(3, points // 50)]
        added = rng.randrange(0, 600)
        data: dict[str, Any] = {
            "firstname": first,
            "lastname": last,
            "email": email,
            "company": company[0] if company else None,
            "title": None,
            "position": rng.choice(POSITIONS),
            "phone": f"+{DIAL[country]} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            "mobile": None,
            "address1": None,
            "address2": None,
            "city": city,
            "state": home[4] or None,
            "zipcode": None,
            "country": country,
            "website": None,
            "points": points,
            "stage": stage,
            "tags": tags,
            "isPublished": True,
            "dateAdded": _stamp(added, i * 7),
            "dateModified": _stamp(added + rng.randrange(0, 90), i * 11),
            "lastActive": _stamp(added + rng.randrange(0, 120), i * 13) if rng.random() < 0.7 else None,
        }
        cid = store.insert("contacts", data)
        contact_ids.append(cid)
        joined = data["dateAdded"]
        if company_index is not None:
            company_links.append((company_ids[company_index], cid, joined))
        rules = {
            "newsletter": "newsletter" in tags or rng.random() < 0.5,
            "hot-leads": points > 120,
            "customers": "customer" in tags,
            "trial-users": "trial" in tags,
            "europe": country in EU,
            "webinar-attendees": "webinar-2024" in tags,
        }
        memberships.extend((segment_by_alias[alias], cid, joined) for alias, member in rules.items() if member)
    conn.executemany("INSERT INTO segment_contacts VALUES (?, ?, ?)", memberships)
    conn.executemany("INSERT INTO company_contacts VALUES (?, ?, ?, 1)", company_links)

    campaign_ids = []
    for i, (name, description, published) in enumerate(CAMPAIGNS):
        events = [
            {"id": i * 10 + j + 1, "name": event, "type": kind, "eventType": etype, "order": j + 1}
            for j, (event, kind, etype) in enumerate(
                (
                    ("Send first email", "email.send", "action"),
                    ("Opened email?", "email.open", "decision"),
                    ("Add 10 points", "lead.changepoints", "action"),
                )
            )
        ]
        campaign_ids.append(
            store.insert(
                "campaigns",
                {
                    "name": name,
                    "description": description,
                    "isPublished": published,
                    "publishUp": None,
                    "publishDown": None,
                    "allowRestart": False,
                    "category": None,
                    "events": events,
                    "dateAdded": _stamp(60 + i * 9, 480),
                    "dateModified": _stamp(90 + i * 9, 480),
                },
            )
        )
    conn.executemany(
        "INSERT INTO campaign_contacts (campaign_id, contact_id, date_added, manually_added) VALUES (?, ?, ?, 0)",
        [(campaign_ids[rng.randrange(len(campaign_ids))], cid, _stamp(200, 60)) for cid in contact_ids[::3]],
    )

    email_ids = []
    for i, (name, subject, email_type, segment_index) in enumerate(EMAILS):
        lists = [segment_ids[segment_index]] if segment_index is not None else []
        email_ids.append(
            store.insert(
                "emails",
                {
                    "name": name,
                    "subject": subject,
                    "fromAddress": "marketing@acme.example",
                    "fromName": "Acme Marketing",
                    "replyToAddress": "hello@acme.example",
                    "emailType": email_type,
                    "language": "en",
                    "isPublished": i != 6,
                    "publishUp": None,
                    "publishDown": None,
                    "customHtml": _html(rng, subject, i),
                    "plainText": None,
                    "lists": lists,
                    "sentCount": 0,
                    "readCount": 0,
                    "category": None,
                    "dateAdded": _stamp(100 + i * 12, 420),
                    "dateModified": _stamp(130 + i * 12, 420),
                },
            )
        )
    sends = [(email_ids[rng.randrange(len(email_ids))], cid, _stamp(300 + cid % 200, cid)) for cid in contact_ids[::2]]
    conn.executemany("INSERT INTO email_sends (email_id, contact_id, date_sent) VALUES (?, ?, ?)", sends)
    for email_id in email_ids:
        sent = sum(1 for s in sends if s[0] == email_id)
        record = store.get("emails", email_id) or {}
        record.update(sentCount=sent, readCount=sent * 2 // 5)
        store.update("emails", email_id, record)

    for i, (name, alias, description, fields) in enumerate(FORMS):
        store.insert(
            "forms",
            {
                "name": name,
                "alias": alias,
                "description": description,
                "isPublished": True,
                "formType": "standalone",
                "category": None,
                "postAction": "message",
                "postActionProperty": "Thanks! We will be in touch.",
                "fields": [
                    {
                        "id": i * 10 + j + 1,
                        "label": f.replace("firstname", "First name").replace("lastname", "Last name").capitalize(),
                        "alias": f,
                        "type": "email" if f == "email" else "text",
                        "order": j + 1,
                        "isRequired": f == "email",
                    }
                    for j, f in enumerate(fields)
                ],
                "actions": [],
                "dateAdded": _stamp(150 + i * 5, 300),
                "dateModified": _stamp(160 + i * 5, 300),
            },
        )

    for i in range(50):
        text = NOTE_TEXTS[i % len(NOTE_TEXTS)].replace("{n}", str(rng.randrange(2, 60)))
        store.insert(
            "notes",
            {
                "text": text,
                "type": NOTE_TYPES[rng.randrange(len(NOTE_TYPES))],
                "lead": contact_ids[rng.randrange(len(contact_ids))],
                "dateTime": _stamp(400 + i * 3, i * 17),
                "isPublished": True,
            },
        )

    for i, (title, alias, extension, mime, size) in enumerate(ASSETS):
        store.insert(
            "assets",
            {
                "title": title,
                "alias": alias,
                "description": f"{title}, for download after a form submission.",
                "storageLocation": "local",
                "path": f"{alias}.{extension}",
                "remotePath": None,
                "originalFileName": f"{alias}.{extension}",
                "extension": extension,
                "mime": mime,
                "size": size,
                "downloadCount": rng.randrange(20, 900),
                "uniqueDownloadCount": rng.randrange(10, 400),
                "revision": 1 + i % 3,
                "language": "en",
                "category": None,
                "isPublished": i != 5,
                "dateAdded": _stamp(120 + i * 20, 200),
                "dateModified": _stamp(150 + i * 20, 200),
            },
        )
    _history(store)


# type, event name, action name of the point actions seeded contacts earned their points with
POINT_ACTIONS = (
    ("form", "1: Submitted a form", "submit"),
    ("email", "2: Opened an email", "open"),
    ("page", "3: Visited the pricing page", "hit"),
    ("asset", "4: Downloaded an asset", "download"),
)


def _later(stamp: str, minutes: int) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(minutes=minutes)).isoformat()


def _last(row: tuple[Any, ...]) -> str:
    return str(row[-1])


def _history(store: Store) -> None:
    """The change logs behind the seeded contacts' timelines, agreeing with their data: how each contact was
    identified, its segment and campaign memberships, its stage, points that add up to its score, and which
    sends were read (each email's first `readCount` sends). A separate generator leaves the records as they were.
    The event and stage rows are written by `history`, as the API's writes are, at the seeded dates.
    """
    from functools import partial

    from mautic_mcp.sandbox import history
    from mautic_mcp.sandbox.entities import USER_NAME

    rng = random.Random(7)
    conn = store.conn
    records = {table: {r["id"]: r for r in store.all(table)} for table in ("segments", "campaigns", "stages", "forms")}
    sources = [("lead", "api-single", None, USER_NAME), ("lead", "import", 1, "contacts-2024.csv")]
    sources += [("form", "submission", fid, form["name"]) for fid, form in records["forms"].items()]
    # (date, contact, the write taking the date) in the order they happened; a stable sort keeps ties in order
    events: list[tuple[str, int, Callable[[str], None]]] = []
    stage_logs: list[tuple[str, Callable[[str], None]]] = []
    point_logs: list[tuple[Any, ...]] = []
    for contact in store.all("contacts"):
        cid, added = contact["id"], contact["dateAdded"]
        bundle, object_, object_id, description = rng.choice(sources)
        if object_ == "api-single":
            events.append((added, cid, partial(history.identified, store, cid, False)))
        else:
            where = (bundle, object_, "identified_contact")
            properties = {"object_description": description}
            events.append((added, cid, partial(history.log_event, store, cid, where, object_id, properties)))
        if contact.get("stage"):
            stage = records["stages"][contact["stage"]]
            stage_logs.append(
                (contact["dateModified"], partial(history.stage_changed, store, cid, stage, "Manually Added"))
            )
        left, when = contact.get("points") or 0, added
        while left > 0:
            delta = left if left <= 10 or rng.random() < 0.4 else rng.randrange(1, left)
            when = _later(when, rng.randrange(30, 60 * 24 * 20))
            point_logs.append((cid, *rng.choice(POINT_ACTIONS), delta, when))
            left -= delta
    for entity, query in (
        ("segments", "SELECT segment_id, contact_id, date_added FROM segment_contacts ORDER BY contact_id, segment_id"),
        ("campaigns", "SELECT campaign_id, contact_id, date_added FROM campaign_contacts ORDER BY contact_id"),
    ):
        for record_id, cid, joined in conn.execute(query):
            record = records[entity][record_id]
            events.append((joined, cid, partial(history.membership, store, cid, entity, record, "added")))
    events.sort(key=lambda e: (e[0], e[1]))
    stage_logs.sort(key=lambda e: e[0])
    for stamp, _, write in events:
        write(stamp)
    for stamp, write in stage_logs:
        write(stamp)
    point_logs.sort(key=_last)
    conn.executemany(
        "INSERT INTO lead_points_change_log (lead_id, type, event_name, action_name, delta, date_added)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        point_logs,
    )
    for email in store.all("emails"):
        sends = conn.execute(
            "SELECT id, date_sent FROM email_sends WHERE email_id = ? ORDER BY id", (email["id"],)
        ).fetchall()
        for i, (send_id, sent) in enumerate(sends):
            read = _later(sent, rng.randrange(5, 60 * 48)) if i < email["readCount"] else None
            conn.execute(
                "UPDATE email_sends SET is_read = ?, date_read = ?, tracking_hash = ? WHERE id = ?",
                (1 if read else 0, read, f"{rng.getrandbits(52):013x}", send_id),
            )
