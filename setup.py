from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'zsris_ros'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={f'{PACKAGE}.grounding': ['model_configs/*.json'], PACKAGE: ['data/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE}/config', glob('config/*.yaml')),
    ],
    install_requires=['setuptools'],
    python_requires='>=3.10',
    zip_safe=False,
    maintainer='zsris_ros maintainers',
    maintainer_email='zsris@example.com',
    description='Zero-shot referring image segmentation (SAM + Global-Local CLIP) for ROS 2',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'zsris = zsris_ros.tools.cli:main',
            'grounding_node = zsris_ros.ros.node:main',
        ],
    },
)
