"""
The `zsris` command: each subcommand is a thin function over the core.

The parser is built from light modules only (settings, topic names); each subcommand imports
what it needs when it runs, so `zsris --help`, `zsris params` and `zsris parse` answer without
loading torch, open_clip or SAM.
"""

import argparse
from contextlib import contextmanager
import json
import logging
from pathlib import Path
import sys
from typing import Callable, get_args, Iterator, NoReturn, Sequence

from pydantic import ValidationError

from .bags.layout import (COMMAND_TOPIC, IMAGE_TOPIC, INFO_TOPIC, SAMPLE_BAG, STORAGE_FORMATS,
                          TRUTH_TOPIC)
from .errors import InputError
from .evaluation.refer_data import DEFAULT_SPLIT_BY, SPLIT_BYS, SPLITS
from ..grounding.config import GroundingConfig
from ..grounding.weights import FETCH_SETTINGS
from ..ros.settings import NodeSettings

#: Exit status for configuration problems and unusable input: missing weights, bad settings,
#: missing topics, corrupt bags.
EXIT_CONFIG = 2


def add_config_options(parser: argparse.ArgumentParser,
                       only: Sequence[str] | None = None) -> None:
    """One --option per GroundingConfig field (or per field in only), never drifting."""
    group = parser.add_argument_group('grounding settings (defaults from the preset)')
    for name, field in GroundingConfig.model_fields.items():
        if only is not None and name not in only:
            continue
        kind = field.annotation if field.annotation in (int, float) else str
        choices = getattr(field.annotation, '__args__', None)
        group.add_argument(
            '--' + name.replace('_', '-'), dest=name, type=kind, default=None,
            choices=choices if choices and all(isinstance(c, str) for c in choices) else None,
            help=f'{field.description} (default: {field.default})')


def config_from_args(args: argparse.Namespace) -> GroundingConfig:
    """Only options given on the command line override the preset's defaults."""
    given = {name: getattr(args, name) for name in GroundingConfig.model_fields
             if getattr(args, name, None) is not None}
    return GroundingConfig(**given)


def cmd_ground(args: argparse.Namespace) -> int:
    """
    Ground one expression on one image file and print the result as JSON.

    --out is checked before the models load; the mask is written after the JSON is printed,
    so a failed write is reported (exit 2) without losing the answer.
    """
    from .ground import check_mask_path, ground_image, read_depth, write_mask

    out = check_mask_path(args.out) if args.out else None
    depth = read_depth(args.depth) if args.depth else None
    result = ground_image(config_from_args(args), args.image, args.text, depth, args.intrinsics)
    print(json.dumps(result.to_dict()), flush=True)
    if out is not None and result.mask is not None:
        write_mask(result.mask, out)
    return 0 if result.status != 'error' else 1


@contextmanager
def torch_hidden() -> Iterator[None]:
    """
    Make torch unimportable for the duration, unless it is loaded already.

    spaCy's thinc imports torch when it can (seconds) only to offer torch layers, which the
    dependency parser never uses; thinc treats the failed import as "no torch".
    """
    if 'torch' in sys.modules:
        yield
        return
    sys.modules['torch'] = None
    try:
        yield
    finally:
        del sys.modules['torch']


def cmd_parse(args: argparse.Namespace) -> int:
    """Show how a command is split into referring expression and target noun phrase."""
    with torch_hidden():
        from ..grounding.phrase import PhraseParser

        phrase = PhraseParser(args.spacy_model).parse(args.text)
    print(json.dumps(phrase.__dict__))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the reference-style pipeline and ours on the same frames and weights."""
    from .bench import format_report, run_bench

    report = run_bench(config_from_args(args), args.frames, args.commands, args.frame_scale,
                       args.realistic_load)
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Replay the sample bag into a live node and show what it grounded."""
    from .live.demo import format_rows, run_demo

    summary = run_demo({'model_preset': args.preset, 'device': args.device}, Path(args.bag),
                       Path(args.out))
    print(format_rows(summary))
    print(f'overlays and summary.json in {args.out}')
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Call a running node's ground service; exit 0 ok, 1 other status, 3 no answer."""
    from .live.ask import ask

    return ask(args.text, args.service, args.timeout, Path(args.image) if args.image else None)


def cmd_toy_eval(args: argparse.Namespace) -> int:
    """Score the toy preset on held-out toy scenes, with the method's ablations."""
    from .evaluation.toy import evaluate_toy, format_toy_report

    report = evaluate_toy(config_from_args(args), args.n, args.seed)
    print(json.dumps(report) if args.json else format_toy_report(report))
    return 0


def cmd_toy_train(args: argparse.Namespace) -> int:
    """Train the toy CLIP from scratch; the shipped checkpoint is this with the defaults."""
    from ..toy.train import DEFAULT_STEPS, train

    steps = DEFAULT_STEPS if args.steps is None else args.steps
    train(Path(args.out), steps, args.seed, args.log_every)
    print(f'saved {args.out}')
    return 0


def add_toy_commands(commands: argparse._SubParsersAction) -> None:
    """`zsris toy eval|train`: the offline toy world."""
    toy = commands.add_parser('toy', help='the offline toy world: evaluate or retrain')
    kinds = toy.add_subparsers(dest='toy_command', required=True)
    evaluate = kinds.add_parser('eval', help='accuracy on held-out toy scenes, with ablations')
    evaluate.add_argument('--n', type=_count, default=100, help='number of scenes')
    evaluate.add_argument('--seed', type=int, default=10_000,
                          help='seed of the first scene (training uses seeds from 10^6 up)')
    evaluate.add_argument('--json', action='store_true', help='print one JSON object')
    add_config_options(evaluate)
    evaluate.set_defaults(handler=cmd_toy_eval, preset='toy')
    retrain = kinds.add_parser('train', help='train the toy CLIP from scratch (fixed seed)')
    retrain.add_argument('--out', required=True, help='checkpoint file to write')
    retrain.add_argument('--steps', type=_count,
                         help='optimiser steps (default: those of the shipped checkpoint)')
    retrain.add_argument('--seed', type=int, default=0,
                         help='seed of the training scenes and captions')
    retrain.add_argument('--log-every', type=_count, default=50, help='steps between logs')
    retrain.set_defaults(handler=cmd_toy_train)


def cmd_params(args: argparse.Namespace) -> int:
    """Print the node's parameters as the YAML parameter file or a Markdown table."""
    from .parameter_table import render_markdown, render_yaml, update_markdown_block

    if args.into:
        update_markdown_block(args.into)
    else:
        print(render_markdown() if args.markdown else render_yaml(), end='')
    return 0


def cmd_eval_bag(args: argparse.Namespace) -> int:
    """Replay a bag's commands through the pipeline and score them."""
    from .bags.reader import BagTopics
    from .evaluation.bag import BagSource, evaluate_bag
    from .evaluation.run import describe

    source = BagSource(
        Path(args.bag), BagTopics(args.image_topic, args.command_topic, args.gt_topic,
                                  args.info_topic),
        args.frame_policy, args.next_frame_timeout, Path(args.gt_file) if args.gt_file else None)
    metrics = evaluate_bag(config_from_args(args), source, Path(args.out), args.limit,
                           args.overlays)
    print(describe(metrics, Path(args.out)))
    return 0


def cmd_eval_refer(args: argparse.Namespace) -> int:
    """Evaluate on a RefCOCO-family split with the paper's protocol."""
    from .evaluation.refer import evaluate_refer
    from .evaluation.run import describe

    metrics = evaluate_refer(config_from_args(args), Path(args.root), args.dataset, args.split,
                             args.split_by, Path(args.out), args.limit, args.overlays)
    print(describe(metrics, Path(args.out)))
    return 0


def cmd_eval_compare(args: argparse.Namespace) -> int:
    """Print two runs' metrics side by side."""
    from .evaluation.compare import compare_table, load_metrics

    print(f'A = {args.a}\nB = {args.b}')
    print(compare_table(load_metrics(Path(args.a)), load_metrics(Path(args.b))))
    return 0


def cmd_bag_from_toy(args: argparse.Namespace) -> int:
    """Write toy scenes and their expressions as a replayable bag."""
    from .bags.writer import toy_scenes, write_bag

    count = write_bag(Path(args.out), toy_scenes(args.n, args.seed, args.per_scene),
                      args.storage)
    print(f'wrote {count} commands on {args.n} scenes to {args.out}')
    return 0


def cmd_bag_from_refer(args: argparse.Namespace) -> int:
    """Write a RefCOCO-family split as a replayable bag."""
    from .bags.writer import refer_scenes, write_bag
    from .evaluation.refer_data import load_split

    images = load_split(Path(args.root), args.dataset, args.split,
                        args.split_by or DEFAULT_SPLIT_BY[args.dataset])[:args.images]
    count = write_bag(Path(args.out), refer_scenes(images), args.storage)
    print(f'wrote {count} commands on {len(images)} images to {args.out}')
    return 0


def add_eval_commands(commands: argparse._SubParsersAction) -> None:
    """`zsris eval bag|refer|compare`."""
    evaluate = commands.add_parser('eval', help='score the grounding on a bag or on RefCOCO')
    kinds = evaluate.add_subparsers(dest='eval_command', required=True)
    node = NodeSettings.model_fields

    bag = kinds.add_parser('bag', help="replay a bag's commands as the node would answer them")
    bag.add_argument('bag', help='rosbag2 folder (MCAP or sqlite3) or its .mcap/.db3 file')
    bag.add_argument('--image-topic', default=IMAGE_TOPIC,
                     help='sensor_msgs/Image or CompressedImage (default: %(default)s)')
    bag.add_argument('--command-topic', default=COMMAND_TOPIC,
                     help='std_msgs/String commands (default: %(default)s)')
    truth = bag.add_mutually_exclusive_group()
    truth.add_argument('--gt-topic', help='mono8 ground-truth masks, one per command at its '
                       f'log time (default: {TRUTH_TOPIC} when the bag has it)')
    truth.add_argument('--gt-file', help='JSON list of {"command_index" or "stamp_ns", '
                       '"mask": PNG path relative to the file}')
    bag.add_argument('--info-topic', help='std_msgs/String JSON per command, e.g. its type '
                     f'(default: {INFO_TOPIC} when the bag has it)')
    bag.add_argument('--frame-policy', choices=('latest', 'next'),
                     default=node['frame_policy'].default, help=node['frame_policy'].description)
    bag.add_argument('--next-frame-timeout', type=float,
                     default=node['next_frame_timeout'].default,
                     help=node['next_frame_timeout'].description)
    _add_run_options(bag)
    bag.set_defaults(handler=cmd_eval_bag)

    refer = kinds.add_parser('refer', help='RefCOCO/RefCOCO+/RefCOCOg in the REFER layout')
    _add_refer_options(refer)
    _add_run_options(refer)
    refer.set_defaults(handler=cmd_eval_refer)

    compare = kinds.add_parser('compare', help="two runs' metrics.json side by side")
    compare.add_argument('a', help='metrics.json of run A')
    compare.add_argument('b', help='metrics.json of run B')
    compare.set_defaults(handler=cmd_eval_compare)


def add_bag_commands(commands: argparse._SubParsersAction) -> None:
    """`zsris bag from-toy|from-refer`: bags for `ros2 bag play` and `zsris eval bag`."""
    bag = commands.add_parser('bag', help='write replayable bags with ground truth')
    kinds = bag.add_subparsers(dest='bag_command', required=True)
    toy = kinds.add_parser('from-toy', help='toy tabletop scenes and their expressions')
    toy.add_argument('--n', type=_count, default=10,
                     help='number of scenes (default: %(default)s)')
    toy.add_argument('--seed', type=int, default=0, help='seed of the first scene')
    toy.add_argument('--per-scene', type=_count, default=None,
                     help='expressions kept per scene, all types in turn (default: all)')
    toy.set_defaults(handler=cmd_bag_from_toy)
    refer = kinds.add_parser('from-refer', help='a RefCOCO-family split')
    _add_refer_options(refer)
    refer.add_argument('--images', type=_count, help='at most this many images')
    refer.set_defaults(handler=cmd_bag_from_refer)
    for parser in (toy, refer):
        parser.add_argument('--out', required=True, help='new bag folder')
        parser.add_argument('--storage', choices=STORAGE_FORMATS, default='mcap',
                            help='storage format (default: %(default)s)')


def cmd_weights_fetch(args: argparse.Namespace) -> int:
    """Download and verify every weight file the settings load, ahead of any mission."""
    from .weights import fetch_weights

    return fetch_weights(config_from_args(args))


def cmd_weights_list(args: argparse.Namespace) -> int:
    """Show the cached weight files: name, path, size and whether they verified."""
    from .weights import list_weights

    return list_weights(args.weights_dir, args.verify, args.json)


class OneLineErrorParser(argparse.ArgumentParser):
    """A parser whose usage errors are one line (a bad --preset, say) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print the error and where to read the usage, on one line."""
        self.exit(EXIT_CONFIG, f'{self.prog}: error: {message}; see {self.prog} --help\n')


def add_weights_commands(commands: argparse._SubParsersAction) -> None:
    """`zsris weights fetch|list`: weights fetched ahead of time, and what is cached."""
    weights = commands.add_parser('weights', help='fetch weights ahead of time, or list the '
                                  'cached ones')
    kinds = weights.add_subparsers(dest='weights_command', required=True,
                                   parser_class=OneLineErrorParser)
    fetch = kinds.add_parser('fetch', help='download and verify every weight file the preset '
                             '(and the model options given) needs')
    add_config_options(fetch, only=FETCH_SETTINGS)
    fetch.set_defaults(handler=cmd_weights_fetch)
    listing = kinds.add_parser('list', help='the cached weight files: name, size, verified, '
                               'path')
    listing.add_argument('--weights-dir', default='',
                         help=GroundingConfig.model_fields['weights_dir'].description)
    listing.add_argument('--verify', action='store_true',
                         help='hash every file again instead of trusting the checks on record')
    listing.add_argument('--json', action='store_true', help='print one JSON object')
    listing.set_defaults(handler=cmd_weights_list)


def _add_refer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--root', required=True, help='REFER data folder (holds refcoco/, '
                        'refcoco+/, refcocog/ and images/)')
    parser.add_argument('--dataset', required=True, choices=tuple(DEFAULT_SPLIT_BY))
    parser.add_argument('--split', required=True, choices=SPLITS)
    parser.add_argument('--split-by', choices=SPLIT_BYS,
                        help='default: unc for refcoco and refcoco+, umd for refcocog')


def _count(text: str) -> int:
    """Argparse type of --limit and the like: a whole number, 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'{text} is negative')
    return value


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--out', required=True, help='results folder; a rerun resumes it')
    parser.add_argument('--limit', type=_count, help='only the first N expressions')
    parser.add_argument('--overlays', action='store_true', help='write overlay PNGs too')
    add_config_options(parser)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog='zsris', description='Zero-shot referring image segmentation (Global-Local CLIP).')
    parser.add_argument('-v', '--verbose', action='store_true', help='log progress to stderr')
    commands = parser.add_subparsers(dest='command', required=True)

    ground = commands.add_parser('ground', help='ground an expression on an image file')
    ground.add_argument('--image', required=True, help='image file (PNG, JPEG, ...)')
    ground.add_argument('--text', required=True, help='referring expression or command')
    ground.add_argument('--out', help='write the chosen mask to this .png file '
                        '(only when a mask was chosen)')
    ground.add_argument('--depth', help='aligned depth image: 16-bit PNG in millimetres or '
                        '.npy in metres (reads "nearest", "behind", ...; with --intrinsics, '
                        'gives the 3-D target point)')
    ground.add_argument('--intrinsics', nargs=4, type=float, metavar=('FX', 'FY', 'CX', 'CY'),
                        help='pinhole intrinsics of the colour camera, in pixels')
    add_config_options(ground)
    ground.set_defaults(handler=cmd_ground)

    parse = commands.add_parser('parse', help='show the phrase the grounding uses')
    parse.add_argument('text', help='referring expression or command')
    parse.add_argument('--spacy-model', default=GroundingConfig().spacy_model)
    parse.set_defaults(handler=cmd_parse)

    bench = commands.add_parser('bench', help='latency of our pipeline vs the reference style')
    bench.add_argument('--frames', type=int, default=5, help='distinct frames to ground on')
    bench.add_argument('--commands', type=int, default=3, help='commands per frame (>= 2)')
    bench.add_argument('--frame-scale', type=float, default=1.0,
                       help='resize the 320x240 bench frames by this factor (camera size)')
    bench.add_argument('--json', action='store_true', help='print one JSON object')
    bench.add_argument('--realistic-load', action='store_true',
                       help="random SAM weights: let a real scene's share of masks through "
                       'every stage (see README "Speed")')
    add_config_options(bench)
    bench.set_defaults(handler=cmd_bench)

    demo = commands.add_parser('demo', help='replay the sample bag into a live node')
    fields = GroundingConfig.model_fields
    demo.add_argument('--preset', default='toy', choices=get_args(fields['preset'].annotation),
                      help='model preset of the node (default: toy, trained offline)')
    demo.add_argument('--device', default=fields['device'].default,
                      choices=get_args(fields['device'].annotation),
                      help=fields['device'].description)
    demo.add_argument('--bag', default=str(SAMPLE_BAG), help='bag to replay')
    demo.add_argument('--out', default='demo_out', help='folder for overlays and summary')
    demo.set_defaults(handler=cmd_demo)

    ask = commands.add_parser('ask', help="ask a running node's ground service; print JSON")
    ask.add_argument('text', help='the command ("pick up the red mug")')
    ask.add_argument('--service', default='ground',
                     help='service name, e.g. /robot/ground for a namespaced node')
    ask.add_argument('--image', help='ground on this image file, not the camera frame')
    ask.add_argument('--timeout', type=float, default=60.0,
                     help='seconds to wait for the node and for its answer')
    ask.set_defaults(handler=cmd_ask)

    params = commands.add_parser('params', help="print the node's parameter file (YAML)")
    params.add_argument('--markdown', action='store_true', help='a Markdown table instead')
    params.add_argument('--into', metavar='FILE',
                        help='replace the table between the params markers of FILE')
    params.set_defaults(handler=cmd_params)

    add_eval_commands(commands)
    add_bag_commands(commands)
    add_toy_commands(commands)
    add_weights_commands(commands)
    return parser


def core_errors() -> tuple[type[Exception], ...]:
    """
    Return the core's errors that mean "change a setting", not a bug.

    Imported only once something has failed: their modules load torch and spaCy, which
    `zsris params` and `zsris parse` must not wait for.
    """
    from ..grounding import ImageInputError, ModelConfigError, WeightsUnavailableError
    from ..grounding.phrase import PhraseModelError

    return WeightsUnavailableError, ModelConfigError, PhraseModelError, ImageInputError


def describe_error(error: Exception, args: argparse.Namespace) -> str:
    """
    Word a core error for the command line: the setting it names, as this command's option.

    The core names settings only (`sam_checkpoint`); a subcommand with config options has one
    --option per setting, so the option is found from the parsed arguments.
    """
    setting = getattr(error, 'setting', None)
    if setting is None or not hasattr(args, setting):
        return str(error)
    return f"{error} (option --{setting.replace('_', '-')})"


def run_reporting_errors(handler: Callable[[argparse.Namespace], int],
                         args: argparse.Namespace) -> int:
    """
    Run a subcommand's handler, reporting configuration problems without a traceback.

    Such a problem becomes one line on stderr and exit status 2; a message that quotes a
    library's multi-line error (a YAML parser's, say) is folded onto that line.
    """
    try:
        return handler(args)
    except InputError as error:
        message = str(error)
    except ValidationError as error:
        message = '; '.join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                            for e in error.errors())
    except Exception as error:
        if not isinstance(error, core_errors()):
            raise
        message = describe_error(error, args)
    print(f"zsris: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `zsris` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format='%(levelname)s %(name)s: %(message)s')
    return run_reporting_errors(args.handler, args)


if __name__ == '__main__':
    sys.exit(main())
