"""Word lists for realistic fake CRM data.

Includes non-ASCII names (diacritics, apostrophes, CJK) on purpose: a pipeline that
mangles encodings or quotes should fail against the emulator, not in production.
"""

from __future__ import annotations

# fmt: off
FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
    "Mark", "Margaret", "Steven", "Sandra", "Paul", "Ashley", "Andrew", "Emily", "Joshua",
    "Donna", "Kenneth", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa",
    "Pamela", "Katherine", "Oliver", "Amelia", "Noah", "Olivia", "Liam", "Emma", "Lucas",
    "Sophie", "Hannah", "Leon", "Mia", "Finn", "Lena", "Priya", "Arjun", "Fatima", "Omar",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Huber", "Schneider",
    "Fischer", "Weber", "Wagner", "Becker", "Patel", "Sharma", "Khan", "Kowalski", "Novak",
)
# Latin names with diacritics or apostrophes, (first, last).
INTL_NAMES = (
    ("Zoë", "Ñúñez"), ("José", "García"), ("Søren", "Kierkegård"), ("Åsa", "Lindqvist"),
    ("François", "Lefèvre"), ("Łukasz", "Wiśniewski"), ("Björn", "Müller"), ("Chloé", "Dubois"),
    ("Siobhán", "O'Brien"), ("Dáithí", "Ó Sé"), ("Jürgen", "Groß"), ("Inès", "Chévrier"),
    ("Ömer", "Yılmaz"), ("Ana", "Conceição"), ("Nuño", "Peña"), ("Mårten", "Ødegaard"),
    ("Renée", "D'Amico"), ("Dvořák", "Antonín"), ("Ewa", "Żółć"), ("Şebnem", "Çelik"),
)
# CJK names with a romanisation for e-mail local parts, (first, last, first_ascii, last_ascii).
CJK_NAMES = (
    ("雷", "李", "lei", "li"), ("梅梅", "韩", "meimei", "han"),
    ("花子", "佐藤", "hanako", "sato"), ("太郎", "山田", "taro", "yamada"),
    ("민준", "김", "minjun", "kim"), ("伟", "王", "wei", "wang"),
)
SALUTATIONS_F = ("Ms", "Mrs", "Dr", "Prof")
SALUTATIONS_M = ("Mr", "Dr", "Prof")
FEMALE_HINTS = frozenset(
    {
        "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
        "Sarah", "Karen", "Nancy", "Lisa", "Betty", "Margaret", "Sandra", "Ashley", "Emily",
        "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Pamela", "Katherine", "Amelia",
        "Olivia", "Emma", "Sophie", "Hannah", "Mia", "Lena", "Priya", "Fatima", "Zoë", "Åsa",
        "Chloé", "Siobhán", "Inès", "Ana", "Renée", "Ewa", "Şebnem", "梅梅", "花子",
    }
)
JOB_TITLES = (
    "CEO", "CFO", "CTO", "COO", "VP Sales", "VP Marketing", "Head of Procurement",
    "Purchasing Manager", "IT Director", "Operations Manager", "Office Manager",
    "Sales Representative", "Account Executive", "Marketing Coordinator", "Engineer",
    "Senior Consultant", "Project Manager", "Product Owner", "Finance Controller",
    "HR Business Partner", "Managing Director", "Geschäftsführer", "Chargé d'affaires",
)
INDUSTRIES = (
    "Software", "Manufacturing", "Retail", "Healthcare", "Financial Services", "Education",
    "Construction", "Logistics", "Hospitality", "Energy", "Telecommunications", "Agriculture",
    "Media", "Legal", "Real Estate", "Non-Profit", "Automotive", "Pharmaceuticals",
)
COMPANY_CORE = (
    "Northwind", "Contoso", "Fabrikam", "Blue Harbor", "Silver Peak", "Redwood", "Ironbridge",
    "Lakeside", "Summit", "Brightline", "Evergreen", "Cobalt", "Granite", "Aurora", "Harbour",
    "Crescent", "Pinnacle", "Riverside", "Keystone", "Orchid", "Falcon", "Maple", "Polaris",
    "Sterling", "Beacon", "Horizon", "Vertex", "Quantum", "Meridian", "Oakridge",
)
COMPANY_KIND = (
    "Traders", "Logistics", "Consulting", "Systems", "Analytics", "Foods", "Energy",
    "Health", "Media", "Labs", "Robotics", "Partners", "Industries", "Software", "Capital",
    "Design", "Motors", "Textiles", "Pharma", "Builders",
)
COMPANY_SUFFIX = ("Inc.", "LLC", "Ltd", "GmbH", "AG", "S.A.", "Pty Ltd", "B.V.", "plc", "", "")
UNICODE_COMPANIES = (
    "Müller & Söhne KG", "Société Générale d'Équipement", "株式会社さくら商事",
    "Ørsted Værktøj A/S", "Café Olé S.L.", "Łódź Tech Sp. z o.o.", "北京星辰科技有限公司",
    "Zürcher Präzision AG",
)
# (city, state, country, postcode pattern with # for digits, phone prefix)
PLACES = (
    ("San Francisco", "CA", "United States", "941##", "+1 415"),
    ("New York", "NY", "United States", "100##", "+1 212"),
    ("Austin", "TX", "United States", "787##", "+1 512"),
    ("Chicago", "IL", "United States", "606##", "+1 312"),
    ("Seattle", "WA", "United States", "981##", "+1 206"),
    ("Boston", "MA", "United States", "021##", "+1 617"),
    ("Toronto", "ON", "Canada", "M5V 2T6", "+1 416"),
    ("Vancouver", "BC", "Canada", "V6B 1A1", "+1 604"),
    ("London", None, "United Kingdom", "EC1A 1BB", "+44 20"),
    ("Manchester", None, "United Kingdom", "M1 1AE", "+44 161"),
    ("Dublin", None, "Ireland", "D02 X285", "+353 1"),
    ("Berlin", "Berlin", "Germany", "10###", "+49 30"),
    ("München", "Bayern", "Germany", "80###", "+49 89"),
    ("Zürich", "ZH", "Switzerland", "80##", "+41 44"),
    ("Wien", None, "Austria", "10##", "+43 1"),
    ("Paris", "Île-de-France", "France", "750##", "+33 1"),
    ("Lyon", None, "France", "690##", "+33 4"),
    ("Madrid", None, "Spain", "280##", "+34 91"),
    ("Amsterdam", "Noord-Holland", "Netherlands", "10## AB", "+31 20"),
    ("København", None, "Denmark", "1###", "+45 33"),
    ("Stockholm", None, "Sweden", "111 ##", "+46 8"),
    ("Kraków", None, "Poland", "30-###", "+48 12"),
    ("Sydney", "NSW", "Australia", "2000", "+61 2"),
    ("Melbourne", "VIC", "Australia", "3000", "+61 3"),
    ("Auckland", None, "New Zealand", "1010", "+64 9"),
    ("Singapore", None, "Singapore", "0189##", "+65"),
    ("Tokyo", "Tokyo", "Japan", "100-####", "+81 3"),
    ("São Paulo", "SP", "Brazil", "01310-###", "+55 11"),
    ("Cape Town", "Western Cape", "South Africa", "8001", "+27 21"),
    ("Bengaluru", "Karnataka", "India", "5600##", "+91 80"),
)
STREETS = (
    "Main Street", "High Street", "Market Street", "Oak Avenue", "Park Lane", "Station Road",
    "Church Road", "Mill Lane", "King Street", "Queen's Road", "Hauptstraße", "Rue de la Paix",
    "Calle Mayor", "Bahnhofstraße", "Elm Street", "Harbour View", "Innovation Way",
)
COUNTRIES = (
    "Argentina", "Australia", "Austria", "Belgium", "Brazil", "Bulgaria", "Canada", "Chile",
    "China", "Colombia", "Croatia", "Czech Republic", "Denmark", "Egypt", "Estonia", "Finland",
    "France", "Germany", "Greece", "Hong Kong", "Hungary", "Iceland", "India", "Indonesia",
    "Ireland", "Israel", "Italy", "Japan", "Kenya", "Latvia", "Lithuania", "Luxembourg",
    "Malaysia", "Mexico", "Netherlands", "New Zealand", "Nigeria", "Norway", "Peru",
    "Philippines", "Poland", "Portugal", "Romania", "Singapore", "Slovakia", "South Africa",
    "South Korea", "Spain", "Sweden", "Switzerland", "Taiwan", "Thailand", "Türkiye",
    "Ukraine", "United Arab Emirates", "United Kingdom", "United States", "Vietnam",
)
CURRENCIES = (
    ("AUD", "A$"), ("BRL", "R$"), ("CAD", "C$"), ("CHF", "CHF"), ("CNY", "¥"), ("EUR", "€"),
    ("GBP", "£"), ("INR", "₹"), ("JPY", "¥"), ("NZD", "NZ$"), ("SEK", "kr"), ("SGD", "S$"),
    ("USD", "$"), ("ZAR", "R"),
)
DEAL_CURRENCIES = ("USD", "USD", "USD", "EUR", "EUR", "GBP", "AUD", "CAD", "CHF")
WORDS = (
    "quarterly", "review", "pricing", "renewal", "integration", "rollout", "pilot", "budget",
    "proposal", "contract", "onboarding", "training", "support", "migration", "analytics",
    "dashboard", "workflow", "security", "compliance", "invoice", "shipment", "warehouse",
    "licence", "upgrade", "timeline", "stakeholder", "procurement", "requirements", "demo",
    "feedback", "escalation", "forecast", "pipeline", "discount", "scope", "milestone",
)
SENTENCES = (
    "Discussed the renewal terms and agreed to follow up next week.",
    "Customer asked for a revised quote including the premium support tier.",
    "Procurement needs the security questionnaire before signing.",
    "They are evaluating two other vendors; price is the main concern.",
    "Kick-off call went well — the team is keen to start in Q3.",
    "Sent the onboarding checklist and the training schedule.",
    "Integration with their ERP is the key requirement.",
    "Budget approved by the CFO, waiting for legal review.",
    "Left a voicemail; will try again on Thursday.",
    "Requested references from customers in the same industry.",
    "Pilot results exceeded expectations: 23% faster processing.",
    "Contract signed — handing over to the delivery team.",
    "Needs a GDPR data-processing agreement (DPA) before go-live.",
    "Asked about volume discounts for >500 seats.",
    "Meeting moved to next Tuesday at 10:00 \"their time\".",
    "Zoë from finance confirmed the PO number; invoice to follow.",
)
OPPORTUNITY_NOUNS = (
    "Platform Licence", "Support Renewal", "Implementation", "Expansion", "Pilot Project",
    "Training Package", "Hardware Refresh", "Consulting Retainer", "Data Migration",
    "Cloud Upgrade", "Annual Maintenance", "Enterprise Agreement",
)
PROJECT_NOUNS = (
    "Rollout", "Implementation", "Migration", "Onboarding", "Integration", "Upgrade",
    "Audit", "Training Programme", "Go-Live", "Process Redesign",
)
TASK_VERBS = (
    "Call", "Email", "Send proposal to", "Follow up with", "Schedule demo for",
    "Prepare contract for", "Review requirements of", "Update forecast for", "Visit",
)
EVENT_KINDS = (
    "Discovery call", "Product demo", "Quarterly business review", "Contract negotiation",
    "Site visit", "Training session", "Kick-off meeting", "Lunch", "Steering committee",
)
TAGS = {
    "Contacts": ("VIP", "Newsletter", "Decision Maker", "Partner", "Event 2025", "Churn Risk",
                 "Champion", "Berlin", "Paris", "Washington", "Key Account"),
    "Leads": ("Webinar", "Trade Show", "Inbound", "Cold", "Hot", "Paris", "Washington", "Q3"),
    "Organisations": ("Enterprise", "SMB", "Partner", "Reseller", "Strategic", "Public Sector"),
    "Opportunities": ("Upsell", "Renewal", "Competitive", "Fast Track", "Q4 Push", "Strategic"),
    "Projects": ("Internal", "Billable", "Fixed Price", "At Risk", "Phase 2"),
    "Emails": ("Important", "Quote", "Follow-up", "Invoice"),
    "KnowledgeArticle": ("How-to", "Troubleshooting", "Billing", "API", "Release Notes"),
    "Prospect": ("MQL", "SQL", "Nurture", "Webinar"),
    "Ticket": ("Bug", "Billing", "Urgent", "Feature Request", "Login", "Integration"),
}
USER_TIMEZONES = (
    "Eastern Standard Time", "Pacific Standard Time", "Central Standard Time",
    "GMT Standard Time", "W. Europe Standard Time", "AUS Eastern Standard Time",
    "Tokyo Standard Time", "Romance Standard Time",
)
FRUITS = (
    "Apple", "Banana", "Cherry", "Dragonfruit", "Elderberry", "Fig", "Grape", "Honeydew",
    "Kiwi", "Lemon", "Mango", "Nectarine", "Orange", "Papaya", "Quince", "Raspberry",
    "Strawberry", "Tangerine", "Ugli Fruit", "Watermelon", "Açaí", "Physalis", "Pitaya",
)
COLORS = ("Red", "Green", "Yellow", "Orange", "Purple", "Blue", "Pink", "Brown")
PRODUCT_LINES = (
    ("Software", ("CRM Seat", "Analytics Add-on", "API Access", "Sandbox", "SSO Module")),
    ("Services", ("Onboarding Package", "Consulting Day", "Custom Integration", "Data Migration")),
    ("Support", ("Premium Support", "24/7 Support", "Dedicated CSM")),
    ("Hardware", ("Barcode Scanner", "Kiosk Terminal", "Label Printer", "Docking Station")),
    ("Training", ("Admin Training", "End-user Training", "Certification Exam")),
)
KB_TOPICS = (
    "Reset your password", "Connect the mobile app", "Import contacts from CSV",
    "Set up e-mail sync", "Configure two-factor authentication", "Export reports",
    "Manage user permissions", "Use the REST API", "Billing and invoices FAQ",
    "Troubleshoot calendar sync", "Create custom fields", "Merge duplicate records",
)
# fmt: on
