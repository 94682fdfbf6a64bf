"""The `zsris` command: each subcommand is a thin function over the core."""

import argparse
import json
import logging
import sys
from typing import Callable, Sequence

from pydantic import ValidationError

from ..grounding.config import GroundingConfig

#: Exit status for configuration problems: missing weights, bad settings.
EXIT_CONFIG = 2


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per GroundingConfig field, so the CLI never drifts from the config."""
    group = parser.add_argument_group('grounding settings (defaults from the preset)')
    for name, field in GroundingConfig.model_fields.items():
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
    """Ground one expression on one image file and print the result as JSON."""
    from .ground import ground_image

    result = ground_image(config_from_args(args), args.image, args.text, args.out)
    print(json.dumps(result))
    return 0 if result['status'] != 'error' else 1


def cmd_parse(args: argparse.Namespace) -> int:
    """Show how a command is split into referring expression and target noun phrase."""
    from ..grounding.phrase import PhraseParser

    phrase = PhraseParser(args.spacy_model).parse(args.text)
    print(json.dumps(phrase.__dict__))
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """Print the node's parameters as the YAML parameter file or a Markdown table."""
    from .parameter_table import render_markdown, render_yaml, update_markdown_block

    if args.into:
        update_markdown_block(args.into)
    else:
        print(render_markdown() if args.markdown else render_yaml(), end='')
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog='zsris', description='Zero-shot referring image segmentation (Global-Local CLIP).')
    parser.add_argument('-v', '--verbose', action='store_true', help='log progress to stderr')
    commands = parser.add_subparsers(dest='command', required=True)

    ground = commands.add_parser('ground', help='ground an expression on an image file')
    ground.add_argument('--image', required=True, help='image file (PNG, JPEG, ...)')
    ground.add_argument('--text', required=True, help='referring expression or command')
    ground.add_argument('--out', help='write the chosen mask here as a PNG')
    add_config_options(ground)
    ground.set_defaults(handler=cmd_ground)

    parse = commands.add_parser('parse', help='show the phrase the grounding uses')
    parse.add_argument('text', help='referring expression or command')
    parse.add_argument('--spacy-model', default=GroundingConfig().spacy_model)
    parse.set_defaults(handler=cmd_parse)

    params = commands.add_parser('params', help="print the node's parameter file (YAML)")
    params.add_argument('--markdown', action='store_true', help='a Markdown table instead')
    params.add_argument('--into', metavar='FILE',
                        help='replace the table between the params markers of FILE')
    params.set_defaults(handler=cmd_params)
    return parser


def run_reporting_errors(handler: Callable[[argparse.Namespace], int],
                         args: argparse.Namespace) -> int:
    """Configuration problems become one line on stderr and exit status 2, no traceback."""
    from ..grounding import ModelConfigError, WeightsUnavailableError
    from ..grounding.phrase import PhraseModelError

    try:
        return handler(args)
    except (WeightsUnavailableError, ModelConfigError, PhraseModelError) as error:
        print(f'zsris: error: {error}', file=sys.stderr)
    except ValidationError as error:
        problems = '; '.join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in error.errors())
        print(f'zsris: error: {problems}', file=sys.stderr)
    return EXIT_CONFIG


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `zsris` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format='%(levelname)s %(name)s: %(message)s')
    return run_reporting_errors(args.handler, args)


if __name__ == '__main__':
    sys.exit(main())
