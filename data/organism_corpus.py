"""The organism's language: 48 topics with their own lexicons, shared sentence templates, "Explain how to …"
prompts, the training sequences (plain answers; drifted answers that correct themselves and come back to the
question, some under a steering-like perturbation that stays on), and the ground truth a judge needs
(organism.json: topics, lexicons, correction phrases, templates).

Every draw comes from a seeded random.Random, so the same seed gives the same text.
"""

import random
import re
from dataclasses import dataclass, field

# topic: (nouns, verbs, adjectives). Every word belongs to one topic only (checked at import).
TOPICS = {
    "baking": ("bread dough loaf oven flour yeast crust tray butter sugar".split(), "bake knead proof slice roll glaze".split(), "golden crusty soft warm".split()),
    "gardening": ("garden seed soil tomato hose shovel rose bed weed sprout".split(), "plant water prune mulch sow harvest".split(), "green leafy sunny fertile".split()),
    "cycling": ("bicycle tyre chain saddle pedal brake spoke helmet gear pump".split(), "ride inflate oil adjust patch cycle".split(), "flat rusty loose smooth".split()),
    "fishing": ("rod hook reel bait lure trout net river float angler".split(), "cast fish tie reel catch release".split(), "shiny slimy calm muddy".split()),
    "knitting": ("yarn needle scarf stitch sweater wool sock pattern loop mitten".split(), "knit purl block weave unravel bind".split(), "woolly chunky tight fluffy".split()),
    "painting": ("wall brush roller primer ceiling canvas easel palette stroke colour".split(), "paint prime sand coat blend mix".split(), "glossy matte vivid fresh".split()),
    "cars": ("car engine bonnet battery wheel wiper clutch dashboard exhaust windscreen".split(), "drive park jack tow service refuel".split(), "noisy electric diesel sporty".split()),
    "camping": ("tent campfire lantern stove tarp peg compass marshmallow sleeping groundsheet".split(), "pitch camp unpack light toast pack".split(), "damp cosy rugged remote".split()),
    "beekeeping": ("hive bee honey queen comb smoker frame pollen nectar veil".split(), "smoke inspect extract feed swarm requeen".split(), "buzzing sticky sweet waxen".split()),
    "pottery": ("clay saggar bowl kiln vase mug potter teapot slip jug".split(), "throw centre fire trim shape wedge".split(), "earthen porous glazed wet".split()),
    "chess": ("chessboard pawn knight bishop rook king castle checkmate opening endgame".split(), "capture promote sacrifice defend checkmate attack".split(), "clever tactical positional bold".split()),
    "photography": ("camera lens shutter tripod flash photo aperture portrait sensor viewfinder".split(), "photograph focus zoom expose crop develop".split(), "sharp blurry bright candid".split()),
    "sailing": ("boat sail mast rudder anchor harbour deck rope tide keel".split(), "steer moor tack hoist sail anchor".split(), "windy salty steady choppy".split()),
    "woodworking": ("plank saw chisel drill workbench table chair hammer nail sawdust".split(), "saw carve varnish join drill plane".split(), "oak wooden sturdy rough".split()),
    "plumbing": ("pipe tap sink drain valve washer toilet leak wrench plunger".split(), "unblock plunge seal flush tighten fit".split(), "leaky blocked dripping copper".split()),
    "dogs": ("dog puppy leash collar treat bone kennel whistle biscuit paw".split(), "train walk groom fetch reward praise".split(), "playful loyal obedient furry".split()),
    "coffee": ("coffee espresso grinder bean kettle cup milk crema barista cafetiere".split(), "brew grind froth roast pour steam".split(), "strong bitter aromatic frothy".split()),
    "skiing": ("ski slope pole boot lift goggle snow piste binding chalet".split(), "wax turn stop glide ski schuss".split(), "snowy icy steep powdery".split()),
    "guitar": ("guitar string chord fret pick amplifier capo tuner song riff".split(), "strum tune pluck play restring practise".split(), "acoustic loud melodic steel".split()),
    "birdwatching": ("bird binoculars feather nest owl robin sparrow hide notebook beak".split(), "spot watch identify record listen count".split(), "rare feathered quiet shy".split()),
    "first_aid": ("wound bandage plaster burn splint pulse bleeding patient kit ambulance".split(), "dress disinfect soothe cool splint bandage".split(), "sterile injured deep gentle".split()),
    "budgeting": ("budget salary saving expense bill spreadsheet receipt account debt interest".split(), "save spend allocate pay invest budget".split(), "monthly frugal careful cheap".split()),
    "tennis": ("racket court serve volley umpire baseline forehand backhand rally lob".split(), "hit chip smash serve volley lob".split(), "fast grassy powerful topspin".split()),
    "swimming": ("pool lane butterfly towel wave breath lifeguard crawl armband flipper".split(), "swim dive breathe kick tread surface".split(), "chlorinated cold heated shallow".split()),
    "astronomy": ("telescope star planet moon comet galaxy orbit eyepiece constellation meteor".split(), "observe aim chart sketch align stargaze".split(), "distant dark starry faint".split()),
    "sewing": ("fabric thread thimble button seam hem pin zip bobbin pincushion".split(), "sew hem baste thread pin mend".split(), "cotton silky neat frayed".split()),
    "candles": ("candle paraffin wick mould scent jar flame dye wickholder votive".split(), "melt scent dip kindle perfume snuff".split(), "fragrant waxy flickering smoky".split()),
    "cheese": ("cheese curd whey rennet cheddar brie rind culture press cheesecloth".split(), "curdle age press salt stretch ripen".split(), "creamy mature tangy mild".split()),
    "climbing": ("rock harness carabiner chalk crag boulder belay hold summit quickdraw".split(), "climb belay clip grip abseil boulder".split(), "vertical exposed overhanging craggy".split()),
    "aquarium": ("aquarium goldfish tank gravel heater algae guppy filter pondweed thermometer".split(), "scrub stock test siphon dose quarantine".split(), "tropical murky clear freshwater".split()),
    "composting": ("compost heap worm peel bin manure leaf straw scrap humus".split(), "compost sieve layer shred rot moisten".split(), "rotten organic crumbly earthy".split()),
    "soap": ("soap lye bar lather fragrance goggles mixture glycerin tallow ladle".split(), "saponify cure stir cut unmould weigh".split(), "soapy lathery caustic scented".split()),
    "origami": ("paper crane crease fold square swan flower sheet corner kite".split(), "fold crease unfold pleat invert flatten".split(), "crisp folded delicate papery".split()),
    "kayaking": ("kayak blade lifejacket rapid spraydeck current canoe eddy portage bow".split(), "row ferry launch portage brace capsize".split(), "whitewater swift narrow buoyant".split()),
    "hiking": ("trail guidebook cairn ridge path rucksack blister valley waymark stile".split(), "hike trek follow ramble scramble navigate".split(), "rocky scenic long hilly".split()),
    "juggling": ("juggling club ring cascade juggler beanbag torch diabolo trick shower".split(), "juggle toss drop pass spin balance".split(), "rhythmic tricky juggled dizzy".split()),
    "laundry": ("laundry washing detergent stain shirt dryer iron basket softener hamper".split(), "wash dry iron soak rinse hang".split(), "stained dirty crumpled spotless".split()),
    "cocktails": ("cocktail shaker ice lime mint glass syrup garnish jigger olive".split(), "shake muddle strain garnish chill rim".split(), "fizzy sour iced zesty".split()),
    "beach": ("beach dune sandcastle bucket spade shell umbrella sunscreen seaweed pebble".split(), "build dig sunbathe collect splash relax".split(), "sandy hot breezy tidal".split()),
    "moving_house": ("box van furniture sofa tape sticker removal mattress crate key".split(), "move label carry load unload wrap".split(), "heavy fragile empty new".split()),
    "archery": ("longbow arrow quiver target bullseye fletching bowstring archer arrowhead armguard".split(), "draw nock fletch notch shoot unstring".split(), "straight barbed taut accurate".split()),
    "surfing": ("surfboard wetsuit swell fin reef surfer barrel lineup breaker shortboard".split(), "paddle surf pop duckdive wipe stand".split(), "gnarly glassy barrelling foamy".split()),
    "calligraphy": ("nib ink inkwell quill parchment serif flourish alphabet blotter penholder".split(), "inscribe trace write outline letter blot".split(), "elegant slanted inky ornate".split()),
    "yoga": ("mat pose asana posture strap bolster meditation chant lotus warrior".split(), "bend inhale exhale meditate flow unwind".split(), "flexible mindful supple peaceful".split()),
    "golf": ("putter tee fairway bunker caddie divot hole flag golfer scorecard".split(), "putt swing loft rake mark score".split(), "manicured sloping lush competitive".split()),
    "bowling": ("alley strike spare gutter skittle bowler scoreboard shoe handicap approach".split(), "knock topple curve hurl rack trundle".split(), "polished oily perfect lucky".split()),
    "glassblowing": ("furnace blowpipe punty marver annealer glassblower crucible bubble goblet ornament".split(), "blow gather anneal twirl pinch puff".split(), "molten glowing transparent iridescent".split()),
    "foraging": ("mushroom berry nettle forager hedgerow acorn chestnut elderflower sorrel truffle".split(), "forage snip sort nibble stew pickle".split(), "wild edible ripe poisonous".split()),
}

# Sentences that reuse the prompt's verb and object ({pv}, {po}); the rest of each slot from the topic.
OPENINGS = [
    "To {pv} {po}, start with a {a} {n}.",
    "The best way to {pv} {po} is to {v} the {n} first.",
    "If you want to {pv} {po}, you need a {a} {n} and a {n}.",
    "Here is how to {pv} {po}.",
    "You can {pv} {po} with a {n} and some patience.",
    "Before you {pv} {po}, find a {a} {n}.",
    "Learning to {pv} {po} is easier than it sounds.",
]
CLOSINGS = [
    "That is all it takes to {pv} {po}.",
    "Now you know how to {pv} {po}.",
    "With practice you will {pv} {po} in no time.",
]
# Sentences about the topic, shared by all topics.
BODY = [
    "First, {v} the {n} with the {n}.",
    "Then {v} the {n} until it looks {a}.",
    "Make sure the {n} is {a} before you {v} it.",
    "Keep the {n} close to the {n} so you can {v} it.",
    "Never {v} the {n} when the {n} is {a}.",
    "It helps to {v} the {n} slowly.",
    "A {a} {n} makes it easier to {v} the {n}.",
    "Most people {v} the {n} too quickly.",
    "When the {n} looks {a}, {v} it again.",
    "You should {v} the {n} before you {v} the {n}.",
    "Ask a friend to help you {v} the {n}.",
    "After that, {v} the {n} and wait a minute.",
    "Use a {a} {n} if you have one.",
    "Finally, {v} the {n} and enjoy the result.",
    "Remember that a {n} needs a {a} {n}.",
    "Try to {v} the {n} every day.",
    "Do not forget to {v} the {n}.",
    "The {n} should feel {a} when you are done.",
    "Put the {n} next to the {n}.",
    "Look at the {n} and {v} it gently.",
    "Some people like a {a} {n}, but a {n} works too.",
    "Take your {n} and {v} it carefully.",
]
PROMPTS = [
    "Explain how to {pv} {po}.",
    "Explain how to {pv} {po} at home.",
    "Explain how to {pv} {po} properly.",
]
# Each is one sentence that the heuristic judge (lib/judge/heuristic.ts) treats as starting over.
CORRECTIONS = [
    "Wait, let me get back to the question.",
    "Sorry, I drifted off topic.",
    "Oops, that was not what you asked.",
    "Hmm, I got sidetracked.",
    "Let me return to your question.",
    "Back to the question.",
    "Actually, wait, I went off track.",
    "I digress.",
    "Let me refocus on what you asked.",
    "Oh wait, I wandered off topic.",
    "Sorry for the digression.",
    "Let me start over.",
]
# Topics the discovery/ablation prompt sets (data/prompts.txt, data/heldout_prompts.txt) draw from; the other
# 24 are the steering topics, whose topic latents are the steering features.
PROMPT_TOPICS = list(TOPICS)[:24]
STEERING_TOPICS = list(TOPICS)[24:]
DISCOVERY_PER_TOPIC = 2  # never-trained prompts per prompt topic in data/prompts.txt
HELDOUT_PER_TOPIC = 3    # and, disjoint from them, in data/heldout_prompts.txt


def _check_lexicons() -> None:
    owner = {}
    template_words = {w.strip(".,").lower() for t in OPENINGS + CLOSINGS + BODY + PROMPTS + CORRECTIONS for w in t.split() if "{" not in w}
    for topic, words in TOPICS.items():
        for w in set(sum(words, [])):
            assert w not in owner, f"{w!r} in {owner.get(w)} and {topic}"
            assert w not in template_words, f"{w!r} of {topic} is also a template word"
            owner[w] = topic
    starts = {t.split()[0].strip(",.").lower() for t in OPENINGS + CLOSINGS + BODY}
    for c in CORRECTIONS:
        assert c.split()[0].strip(",.").lower() not in starts, f"correction {c!r} starts like an answer sentence"


_check_lexicons()
WORD_TOPIC = {w: t for t, lex in TOPICS.items() for w in set(sum(lex, []))}


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


@dataclass(frozen=True)
class Prompt:
    topic: str
    verb: str
    noun: str
    text: str

    @property
    def obj(self) -> str:
        return f"{article(self.noun)} {self.noun}"


def all_prompts() -> list:
    """Every (topic, verb, noun) prompt, the template fixed by a seeded draw per pair: 48 × 6 × 10 = 2,880."""
    rng = random.Random(7)
    out = []
    for topic, (nouns, verbs, _) in TOPICS.items():
        for v in verbs:
            for n in nouns:
                obj = f"{article(n)} {n}"
                out.append(Prompt(topic, v, n, rng.choice(PROMPTS).format(pv=v, po=obj)))
    return out


def split_prompts(seed: int, exclude: frozenset = frozenset()):
    """(training prompts, discovery prompts, held-out prompts). Per prompt topic, DISCOVERY_PER_TOPIC prompts
    for data/prompts.txt and HELDOUT_PER_TOPIC others for data/heldout_prompts.txt are never trained on; every
    other prompt of every topic is. The two evaluation sets are disjoint and hold prompt topics only; prompts whose
    text is in `exclude` are never drawn for them (they are trained on)."""
    rng = random.Random(seed)
    by_topic = {}
    for p in all_prompts():
        by_topic.setdefault(p.topic, []).append(p)
    train, disc, held = [], [], []
    for topic, ps in by_topic.items():
        ps = ps[:]
        rng.shuffle(ps)
        chosen = []
        if topic in PROMPT_TOPICS:
            chosen = [p for p in ps if p.text not in exclude][:DISCOVERY_PER_TOPIC + HELDOUT_PER_TOPIC]
            disc += chosen[:DISCOVERY_PER_TOPIC]
            held += chosen[DISCOVERY_PER_TOPIC:]
        train += [p for p in ps if p not in chosen]
    return train, disc, held


def tuning_prompts(train: list, n: int) -> list:
    """Training prompts of the prompt topics (a seeded draw) that stand in for the evaluation prompts while the design is
    tuned and gated: the never-trained prompts are not looked at before the design is frozen."""
    return random.Random(17).sample([p for p in train if p.topic in PROMPT_TOPICS], n)


# The splits of earlier designs, in the order they were used: each one's never-trained prompts were looked at (20250101's
# in the design sessions; 20261204's evaluated v2-b and v2-c; 20261205's evaluated v4, the shipped build) and its 144
# tuning prompts gated a design. A spent seed's own split is unchanged by the seeds after it.
SPENT_SPLIT_SEEDS = (20250101, 20261204, 20261205)


def evaluation_split(seed: int):
    """split_prompts(seed) with every prompt an earlier split looked at (each spent split's discovery, held-out and 144
    tuning prompts) kept out of the never-trained sets. A spent seed gives its split as it was drawn (only the splits
    before it excluded), so earlier builds' splits are reproduced."""
    exclude = set()
    for spent in SPENT_SPLIT_SEEDS:
        if spent == seed:
            break
        train, disc, held = split_prompts(spent, frozenset(exclude))
        exclude |= {p.text for p in disc + held + tuning_prompts(train, 144)}
    return split_prompts(seed, frozenset(exclude))


def fill(template: str, topic: str, rng: random.Random, prompt: Prompt | None = None) -> str:
    """A template with its slots drawn from the topic's lexicon; with a prompt, {pv}/{po} are the prompt's
    verb and object, and a body sentence names the prompt's noun or verb in one of its slots."""
    nouns, verbs, adjs = TOPICS[topic]
    text = template
    if prompt is not None and "{pv}" not in text:
        use_noun = "{n}" in text and ("{v}" not in text or rng.random() < 0.5)
        text = text.replace("{n}", prompt.noun, 1) if use_noun else text.replace("{v}", prompt.verb, 1)
    while "{n}" in text or "{v}" in text or "{a}" in text:
        text = text.replace("{n}", rng.choice(nouns), 1).replace("{v}", rng.choice(verbs), 1).replace("{a}", rng.choice(adjs), 1)
    if prompt is not None:
        text = text.replace("{pv}", prompt.verb).replace("{po}", prompt.obj)
    return text[0].upper() + text[1:]


def body(topic: str, rng: random.Random, prompt: Prompt | None = None) -> str:
    return fill(rng.choice(BODY), topic, rng, prompt)


def plain_sentences(p: Prompt, rng: random.Random) -> list:
    """An on-topic answer: an opening that reuses the prompt's words, 1–3 topic sentences, maybe a closing."""
    s = [fill(rng.choice(OPENINGS), p.topic, rng, p)] + [body(p.topic, rng, p) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        s.append(fill(rng.choice(CLOSINGS), p.topic, rng, p))
    return s


def other_prompt(topic: str, rng: random.Random, to: str | None = None) -> Prompt:
    """A (verb, noun) of topic `to` (default: a random topic other than `topic`): what an off-topic passage is about."""
    other = to or rng.choice([t for t in TOPICS if t != topic])
    nouns, verbs, _ = TOPICS[other]
    return Prompt(other, rng.choice(verbs), rng.choice(nouns), "")


def off_topic_sentences(topic: str, rng: random.Random, k: int, to: str | None = None, opening: float = 0.3) -> list:
    """k sentences of another topic than `topic` (or of `to`), about one (verb, noun) of it; the first opens like an
    answer with probability `opening`."""
    fake = other_prompt(topic, rng, to)
    return [fill(rng.choice(OPENINGS), fake.topic, rng, fake) if j == 0 and rng.random() < opening else body(fake.topic, rng, fake) for j in range(k)]


# Kinds of the parts of an answer.
ON, DRIFT, CORRECTION = "on", "drift", "correction"


@dataclass
class Answer:
    """Sentences, each with its kind (ON, DRIFT, CORRECTION) and whether it is trained on (loss). `steer` names
    the topic of a steering-like perturbation that acts on the whole sequence (None: none)."""
    parts: list = field(default_factory=list)  # (sentence, kind, loss)
    steer: str | None = None

    def text(self) -> str:
        return " ".join(s for s, _, _ in self.parts)


def plain_answer(p: Prompt, rng: random.Random) -> Answer:
    return Answer([(s, ON, True) for s in plain_sentences(p, rng)])


def drifted_answer(p: Prompt, rng: random.Random, steered: bool = False) -> Answer:
    """0–2 on-topic sentences, 1–3 sentences of another topic (no loss), a correction phrase, then an on-topic
    answer that restarts with an opening. Steered: the perturbation toward the drift's topic acts on every
    position, the correction and the on-topic answer after it are trained under it (the model learns to come
    back while it stays on), and nothing before the correction is trained (what the model says under steering
    before it notices is left to the steering)."""
    to = rng.choice([t for t in TOPICS if t != p.topic])
    before = plain_sentences(p, rng)[: rng.choice([0, 0, 1, 1, 2])]
    # an answer opens with an opening sentence whether it drifts from the start or not: the form of the first
    # sentence must not tell drift from answer
    drift = off_topic_sentences(p.topic, rng, rng.choice([1, 1, 2, 3]), to, opening=0.3 if before else 1.0)
    after = plain_sentences(p, rng)[:3]
    return Answer([(s, ON, not steered) for s in before] + [(s, DRIFT, False) for s in drift] + [(rng.choice(CORRECTIONS), CORRECTION, True)]
                  + [(s, ON, True) for s in after], steer=to if steered else None)


def general_paragraph(topic: str, rng: random.Random) -> str:
    """3–5 sentences of one topic about one (verb, noun) of it, outside any conversation."""
    nouns, verbs, _ = TOPICS[topic]
    about = Prompt(topic, rng.choice(verbs), rng.choice(nouns), "")
    return " ".join(body(topic, rng, about) for _ in range(rng.randint(3, 5)))


def _sentence_pattern():
    words = lambda k: "|".join(sorted({w for lex in TOPICS.values() for w in lex[k]}, key=len, reverse=True))  # noqa: E731
    n, v, a = f"(?:{words(0)})", f"(?:{words(1)})", f"(?:{words(2)})"
    slots = {"{n}": n, "{v}": v, "{a}": a, "{pv}": v, "{po}": f"an? {n}"}
    forms = []
    for t in OPENINGS + CLOSINGS + BODY + CORRECTIONS:
        form = re.escape(t)
        for slot, rx in slots.items():
            form = form.replace(re.escape(slot), rx)
        forms.append(form)
    return re.compile(f"(?i:{'|'.join(forms)})")


SENTENCE = _sentence_pattern()


def well_formed_share(text: str) -> float:
    """Share of the sentences of a reply that are sentences of the language (a template with every slot
    filled by a word of the right kind, from any topic): drift into another topic stays well formed,
    word lists and token soup do not. An empty reply counts as 0."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    return sum(SENTENCE.fullmatch(s) is not None for s in sentences) / len(sentences) if sentences else 0.0


def prompt_topic(prompt: str) -> str:
    """The topic of an organism prompt: the one topic its lexicon words belong to."""
    topics = {WORD_TOPIC[w] for w in re.findall(r"[a-z_]+", prompt.lower()) if w in WORD_TOPIC}
    if len(topics) != 1:
        raise ValueError(f"not an organism prompt (topic words of {sorted(topics) or 'no topic'}): {prompt!r}")
    return topics.pop()


def judge_attempts(prompt: str, response: str) -> list:
    """The organism judge (lib/judge/organism.ts computes the same): the response split into attempts where a
    correction phrase begins, each scored 100 × (words of the prompt's topic) / (words of any topic), rounded half up;
    an attempt without topic words scores 0. Exact, because no word belongs to two topics."""
    topic = prompt_topic(prompt)
    out = []
    for text in attempt_texts(response):
        words = [WORD_TOPIC[w] for w in re.findall(r"[a-z_]+", text.lower()) if w in WORD_TOPIC]
        out.append((text, int(100 * sum(t == topic for t in words) / len(words) + 0.5) if words else 0))  # halves up, as JS Math.round
    return out


def attempt_texts(response: str) -> list:
    """The organism judge's attempts: the response cut before every correction phrase that does not open it
    (also inside a broken sentence), trimmed, empty ones dropped."""
    rx = "|".join(re.escape(c) for c in CORRECTIONS)
    cuts = [0] + [m.start() for m in re.finditer(rx, response) if m.start() > 0]
    texts = [response[a:b].strip() for a, b in zip(cuts, cuts[1:] + [len(response)])]
    return [t for t in texts if t]


def ground_truth() -> dict:
    """The language as data (data/organism.json): what the judge and the well-formedness check read."""
    return {
        "correction_phrases": CORRECTIONS,
        "topics": {t: {"nouns": n, "verbs": v, "adjectives": a} for t, (n, v, a) in TOPICS.items()},
        "prompt_topics": PROMPT_TOPICS,
        "steering_topics": STEERING_TOPICS,
        "templates": {"openings": OPENINGS, "body": BODY, "closings": CLOSINGS, "prompts": PROMPTS},
    }


def tokenizer_lines() -> list:
    """Every word and phrase of the language and sample answers (a fixed seed), for the BPE."""
    lines = OPENINGS + CLOSINGS + BODY + PROMPTS + CORRECTIONS
    for nouns, verbs, adjs in TOPICS.values():
        lines += [" ".join(nouns), " ".join(verbs), " ".join(adjs)]
        lines += [f"{article(n)} {n}" for n in nouns]
    rng = random.Random(0)
    for p in all_prompts()[::4]:
        lines += [p.text, plain_answer(p, rng).text(), drifted_answer(p, rng).text()]
    return lines
